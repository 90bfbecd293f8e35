// Definitions of the fixtures declared in reward_fixture.h.
#include "support/reward_fixture.h"

namespace lmforge::rlhf_test {
std::string prompt_for(Rng& rng) {
  return "say something about " + kTopics[rng.below(kTopics.size())];
}

std::string answer(Rng& rng, int n_target) {
  std::vector<std::string> w;
  const int n = 3 + int(rng.below(4));
  for (int i = 0; i < n; ++i) w.push_back(kWords[rng.below(kWords.size())]);
  for (int i = 0; i < n_target; ++i) w.insert(w.begin() + long(rng.below(w.size() + 1)), kTarget);
  std::string s;
  for (size_t i = 0; i < w.size(); ++i) s += (i ? " " : "") + w[i];
  return s;
}

nlohmann::json ranking(Rng& rng) {
  const int K = rng.below(3) == 0 ? 3 : 2;
  std::vector<std::string> rs;
  for (int k = 0; k < K; ++k) {
    std::string a;
    do {
      a = answer(rng, K - 1 - k);
    } while (std::find(rs.begin(), rs.end(), a) != rs.end());
    rs.push_back(a);
  }
  return {{"prompt", prompt_for(rng)}, {"responses", rs}};
}

std::filesystem::path write_rankings(const std::filesystem::path& file, int n, uint64_t seed) {
  Rng rng(seed);
  std::ofstream f(file);
  for (int i = 0; i < n; ++i) f << ranking(rng).dump() << "\n";
  return file;
}

Tokenizer world_tokenizer() {
  Rng rng(7);
  std::vector<std::string> docs;
  for (int i = 0; i < 400; ++i)
    docs.push_back("user\n" + prompt_for(rng) + "\nassistant\n" + answer(rng, int(rng.below(2))));
  return test_data::tiny_tokenizer(docs, 320);
}

ModelConfig tiny_config(int vocab) {
  ModelConfig c = ModelConfig::preset("tiny", vocab);
  c.n_layer = 2;
  c.n_head = 2;
  c.n_kv_head = 2;
  c.n_embd = 32;
  c.head_dim = 16;
  c.ffn_hidden = 128;
  c.n_ctx = 64;
  c.validate();
  return c;
}

std::filesystem::path write_tiny_model(const std::filesystem::path& dir, uint64_t seed) {
  std::filesystem::create_directories(dir);
  Tokenizer tok = world_tokenizer();
  tok.save(dir);
  ModelConfig c = tiny_config(tok.vocab_size());
  c.eos_token_id = c.bos_token_id = tok.eot_id();
  Transformer m(c);
  m.init_weights(seed);
  m.save(dir);
  return dir;
}

int count_target(const std::string& text) {
  int n = 0;
  for (size_t p = text.find(kTarget); p != std::string::npos; p = text.find(kTarget, p + 1)) ++n;
  return n;
}

}  // namespace lmforge::rlhf_test
