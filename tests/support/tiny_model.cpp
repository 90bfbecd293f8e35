// The tiny-model fixtures declared in tiny_model.h.
#include "support/tiny_model.h"

#include <unistd.h>

#include <random>

namespace lmforge::test {

std::filesystem::path tokenizer_dir() {
  return std::filesystem::path(LMFORGE_SOURCE_DIR) / "tests/data/fixtures/tiny_tokenizer";
}

ModelConfig tiny_cfg(const std::string& arch, int V, int n_kv, bool tied) {
  ModelConfig c;
  c.arch = arch;
  c.vocab_size = V;
  c.n_ctx = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_kv_head = arch == "gpt2" ? 4 : n_kv;
  c.n_embd = 64;
  c.head_dim = 16;
  c.ffn_hidden = arch == "gpt2" ? 256 : 176;
  c.tie_embeddings = tied;
  c.attn_bias = c.mlp_bias = arch == "gpt2";
  c.eos_token_id = -1;
  return c;
}

void perturb(Transformer& model, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  ParamArena& p = model.params();
  for (const auto& e : p.entries()) {
    float* w = p.data() + e.offset;
    const bool bias = e.name.size() > 5 && e.name.compare(e.name.size() - 5, 5, ".bias") == 0;
    for (size_t i = 0; i < e.numel; ++i) {
      if (e.shape.size() >= 2)
        w[i] = 5.0f * w[i];  // std 0.1
      else if (bias)
        w[i] = 0.1f * normal(rng);
      else
        w[i] = 1.0f + 0.1f * normal(rng);
    }
  }
}

Transformer make_model(const ModelConfig& cfg, uint64_t seed) {
  Transformer m(cfg);
  m.init_weights(seed);
  perturb(m, seed + 1);
  return m;
}

std::filesystem::path save_model_dir(const Transformer& m, const std::string& tag) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("lmforge-infer-" + std::to_string(getpid()) + "-" + tag);
  fs::remove_all(dir);
  fs::create_directories(dir);
  m.save(dir);
  fs::copy_file(tokenizer_dir() / "tokenizer.json", dir / "tokenizer.json");
  return dir;
}

std::filesystem::path tiny_llama_dir(uint64_t seed, const std::string& tag, int n_ctx) {
  ModelConfig cfg = tiny_cfg("llama", Tokenizer::load(tokenizer_dir()).vocab_size());
  cfg.n_ctx = n_ctx;
  return save_model_dir(make_model(cfg, seed), tag);
}

}  // namespace lmforge::test
