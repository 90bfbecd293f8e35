// Import of HF directories we did not write and `--format hf` export: a sharded BF16 Qwen2-style
// checkpoint (q/k/v biases, no o_proj bias, model.safetensors.index.json), a Llama with head_dim ≠
// hidden/heads, a Qwen3 (q/k norms, head_dim ≠ hidden/heads) and an F16 GPT-2 with HF's
// attention-mask buffers load, and exporting them again gives byte-identical tensors; a PEFT LoRA
// adapter is merged as W + (alpha/r)·B·A, GPT-2's Conv1D layout included; the CLI refuses bad
// options with exit code 2.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/io/safetensors.h"
#include "lmforge/model/export.h"

using namespace lmforge;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path scratch(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("lmforge-export-hf-" + std::to_string(getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

class Cleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    fs::remove_all(fs::temp_directory_path() / ("lmforge-export-hf-" + std::to_string(getpid())));
  }
};
[[maybe_unused]] auto* const cleanup = ::testing::AddGlobalTestEnvironment(new Cleanup);

// A foreign checkpoint's tensor: name, shape, bytes in dtype.
struct Raw {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;
};

Raw random_tensor(const std::string& name, std::vector<int64_t> shape, DType t, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 0.5f);
  const size_t n = size_t(shape_numel(shape));
  Raw r{name, shape, std::vector<unsigned char>(n * dtype_size(t))};
  for (size_t i = 0; i < n; ++i) {
    const float x = nd(rng);
    if (t == DType::kF32) {
      std::memcpy(r.bytes.data() + 4 * i, &x, 4);
    } else {
      const uint16_t h = t == DType::kBF16 ? f32_to_bf16(x) : f32_to_f16(x);
      std::memcpy(r.bytes.data() + 2 * i, &h, 2);
    }
  }
  return r;
}

// Writes tensors into `shards` files (HF's model-0000k-of-0000n names + index when > 1).
void write_checkpoint(const fs::path& dir, const json& config, const std::vector<Raw>& ts, DType t,
                      int shards) {
  write_file_atomic(dir / "config.json", config.dump(2));
  fs::copy_file(fs::path(LMFORGE_SOURCE_DIR) / "tests/data/fixtures/tiny_tokenizer/tokenizer.json",
                dir / "tokenizer.json");
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
  for (int s = 0; s < shards; ++s) {
    char fname[64];
    std::snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors", s + 1, shards);
    std::vector<NamedTensor> part;
    for (size_t i = size_t(s); i < ts.size(); i += size_t(shards)) {
      part.push_back({ts[i].name, t, ts[i].shape, ts[i].bytes.data()});
      index["weight_map"][ts[i].name] = fname;
    }
    save_safetensors(shards == 1 ? dir / "model.safetensors" : dir / fname, part,
                     {{"format", "pt"}});
  }
  if (shards > 1) write_file_atomic(dir / "model.safetensors.index.json", index.dump(2));
}

// Every source tensor is in the export with the same dtype, shape and bytes; no other tensors.
// Except: `dropped` ones must be absent (buffers HF does not need), `changed` ones are present but
// not compared (merged LoRA targets).
void expect_identical(const fs::path& out, const std::vector<Raw>& src, DType t,
                      const std::vector<std::string>& dropped = {},
                      const std::vector<std::string>& changed = {}) {
  SafetensorsFile f = SafetensorsFile::open(out / "model.safetensors");
  size_t kept = 0;
  for (const Raw& r : src) {
    if (std::find(dropped.begin(), dropped.end(), r.name) != dropped.end()) {
      EXPECT_FALSE(f.has(r.name)) << r.name;
      continue;
    }
    if (std::find(changed.begin(), changed.end(), r.name) != changed.end()) {
      EXPECT_TRUE(f.has(r.name)) << r.name;
      ++kept;
      continue;
    }
    ASSERT_TRUE(f.has(r.name)) << r.name;
    EXPECT_EQ(f.dtype(r.name), t) << r.name;
    EXPECT_EQ(f.shape(r.name), r.shape) << r.name;
    ASSERT_EQ(f.nbytes(r.name), r.bytes.size()) << r.name;
    EXPECT_EQ(std::memcmp(f.raw(r.name), r.bytes.data(), r.bytes.size()), 0) << r.name;
    ++kept;
  }
  EXPECT_EQ(f.names().size(), kept);
}

json qwen2_config() {
  return {{"architectures", {"Qwen2ForCausalLM"}},
          {"model_type", "qwen2"},
          {"hidden_size", 64},
          {"intermediate_size", 96},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2},
          {"max_position_embeddings", 128},
          {"vocab_size", 272},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 1000000.0},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", true},
          {"use_sliding_window", false},
          {"sliding_window", 4096},
          {"max_window_layers", 21},
          {"torch_dtype", "bfloat16"},
          {"bos_token_id", 271},
          {"eos_token_id", 271},
          {"rope_scaling", nullptr}};
}

std::vector<Raw> llama_tensors(int L, int C, int Q, int KV, int FF, bool qkv_bias, bool tied,
                               DType t, std::mt19937& rng) {
  std::vector<Raw> ts;
  ts.push_back(random_tensor("model.embed_tokens.weight", {272, C}, t, rng));
  for (int l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    ts.push_back(random_tensor(p + "input_layernorm.weight", {C}, t, rng));
    ts.push_back(random_tensor(p + "self_attn.q_proj.weight", {Q, C}, t, rng));
    ts.push_back(random_tensor(p + "self_attn.k_proj.weight", {KV, C}, t, rng));
    ts.push_back(random_tensor(p + "self_attn.v_proj.weight", {KV, C}, t, rng));
    if (qkv_bias) {
      ts.push_back(random_tensor(p + "self_attn.q_proj.bias", {Q}, t, rng));
      ts.push_back(random_tensor(p + "self_attn.k_proj.bias", {KV}, t, rng));
      ts.push_back(random_tensor(p + "self_attn.v_proj.bias", {KV}, t, rng));
    }
    ts.push_back(random_tensor(p + "self_attn.o_proj.weight", {C, Q}, t, rng));
    ts.push_back(random_tensor(p + "post_attention_layernorm.weight", {C}, t, rng));
    ts.push_back(random_tensor(p + "mlp.gate_proj.weight", {FF, C}, t, rng));
    ts.push_back(random_tensor(p + "mlp.up_proj.weight", {FF, C}, t, rng));
    ts.push_back(random_tensor(p + "mlp.down_proj.weight", {C, FF}, t, rng));
  }
  ts.push_back(random_tensor("model.norm.weight", {C}, t, rng));
  if (!tied) ts.push_back(random_tensor("lm_head.weight", {272, C}, t, rng));
  return ts;
}

int run_cli(const std::string& args) {
  const std::string cmd = std::string(LMFORGE_BINARY) + " " + args + " >/dev/null 2>&1";
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

TEST(ExportHf, ShardedBf16Qwen2RoundTripsByteIdentical) {
  std::mt19937 rng(7);
  const fs::path src = scratch("qwen2") / "src";
  fs::create_directories(src);
  const std::vector<Raw> ts = llama_tensors(2, 64, 64, 32, 96, true, true, DType::kBF16, rng);
  write_checkpoint(src, qwen2_config(), ts, DType::kBF16, 3);
  Transformer m = Transformer::load(src);
  EXPECT_TRUE(m.config().attn_bias);
  EXPECT_FALSE(m.config().attn_out_bias);
  EXPECT_EQ(m.config().rope_theta, 1e6f);
  ExportOptions o;
  o.model = src;
  o.format = "hf";
  o.output = src.parent_path() / "out";
  ExportReport r = run_export(o);
  EXPECT_EQ(r.dtype, "BF16");
  expect_identical(o.output, ts, DType::kBF16);
  json cfg = json::parse(read_file(o.output / "config.json"));
  EXPECT_EQ(cfg["model_type"], "qwen2");
  EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
  EXPECT_EQ(read_file(o.output / "tokenizer.json"), read_file(src / "tokenizer.json"));
  // And once more through our own writer: ours → HF → ours → HF is stable.
  ExportOptions o2 = o;
  o2.model = o.output;
  o2.output = src.parent_path() / "out2";
  run_export(o2);
  expect_identical(o2.output, ts, DType::kBF16);
}

TEST(ExportHf, LlamaWithWideHeadsAndF32) {
  std::mt19937 rng(8);
  const fs::path src = scratch("llama") / "src";
  fs::create_directories(src);
  // head_dim 32 with hidden 64 and 4 heads: q is (128, 64), o_proj (64, 128).
  json cfg = {{"architectures", {"LlamaForCausalLM"}},
              {"model_type", "llama"},
              {"hidden_size", 64},
              {"intermediate_size", 80},
              {"num_hidden_layers", 1},
              {"num_attention_heads", 4},
              {"num_key_value_heads", 1},
              {"head_dim", 32},
              {"max_position_embeddings", 64},
              {"vocab_size", 272},
              {"rms_norm_eps", 1e-5},
              {"tie_word_embeddings", false},
              {"rope_scaling", {{"rope_type", "default"}}}};
  const std::vector<Raw> ts = llama_tensors(1, 64, 128, 32, 80, false, false, DType::kF32, rng);
  write_checkpoint(src, cfg, ts, DType::kF32, 1);
  ExportOptions o;
  o.model = src;
  o.format = "hf";
  o.output = src.parent_path() / "out";
  run_export(o);
  expect_identical(o.output, ts, DType::kF32);
  EXPECT_EQ(json::parse(read_file(o.output / "config.json"))["head_dim"], 32);
}

// Qwen3-0.6B's config.json keys at toy size: head_dim (32) ≠ hidden/heads (16), q/k norms per
// head, no biases, tied head, sliding-window keys present but off.
json qwen3_config() {
  return {{"architectures", {"Qwen3ForCausalLM"}},
          {"model_type", "qwen3"},
          {"attention_bias", false},
          {"attention_dropout", 0.0},
          {"head_dim", 32},
          {"hidden_act", "silu"},
          {"hidden_size", 64},
          {"initializer_range", 0.02},
          {"intermediate_size", 96},
          {"max_position_embeddings", 128},
          {"max_window_layers", 28},
          {"num_attention_heads", 4},
          {"num_hidden_layers", 2},
          {"num_key_value_heads", 2},
          {"rms_norm_eps", 1e-6},
          {"rope_scaling", nullptr},
          {"rope_theta", 1000000},
          {"sliding_window", nullptr},
          {"tie_word_embeddings", true},
          {"torch_dtype", "bfloat16"},
          {"use_cache", true},
          {"use_sliding_window", false},
          {"vocab_size", 272},
          {"bos_token_id", 271},
          {"eos_token_id", 271}};
}

std::vector<Raw> qwen3_tensors(DType t, std::mt19937& rng) {
  std::vector<Raw> ts = llama_tensors(2, 64, 128, 64, 96, false, true, t, rng);
  for (int l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".self_attn.";
    ts.push_back(random_tensor(p + "q_norm.weight", {32}, t, rng));
    ts.push_back(random_tensor(p + "k_norm.weight", {32}, t, rng));
  }
  return ts;
}

TEST(ExportHf, Qwen3RoundTripsByteIdentical) {
  std::mt19937 rng(9);
  const fs::path src = scratch("qwen3") / "src";
  fs::create_directories(src);
  const std::vector<Raw> ts = qwen3_tensors(DType::kBF16, rng);
  write_checkpoint(src, qwen3_config(), ts, DType::kBF16, 2);
  Transformer m = Transformer::load(src);
  EXPECT_EQ(m.config().arch, "qwen3");
  EXPECT_TRUE(m.config().features().qk_norm);
  EXPECT_EQ(m.config().head_dim, 32);
  EXPECT_FALSE(m.config().attn_bias);
  EXPECT_TRUE(m.params().has("model.layers.1.self_attn.k_norm.weight"));
  ExportOptions o;
  o.model = src;
  o.format = "hf";
  o.output = src.parent_path() / "out";
  ExportReport r = run_export(o);
  EXPECT_EQ(r.dtype, "BF16");
  expect_identical(o.output, ts, DType::kBF16);
  json cfg = json::parse(read_file(o.output / "config.json"));
  EXPECT_EQ(cfg["architectures"], json({"Qwen3ForCausalLM"}));
  EXPECT_EQ(cfg["model_type"], "qwen3");
  EXPECT_EQ(cfg["head_dim"], 32);
  EXPECT_EQ(cfg["attention_bias"], false);
  // ours → HF → ours → HF is stable, config included.
  ExportOptions o2 = o;
  o2.model = o.output;
  o2.output = src.parent_path() / "out2";
  run_export(o2);
  expect_identical(o2.output, ts, DType::kBF16);
  EXPECT_EQ(json::parse(read_file(o2.output / "config.json")), cfg);

  // A missing q_norm is named; a sliding window is refused by key.
  const fs::path bad = scratch("qwen3-bad");
  std::vector<Raw> missing = ts;
  missing.erase(std::remove_if(missing.begin(), missing.end(),
                               [](const Raw& x) {
                                 return x.name == "model.layers.1.self_attn.q_norm.weight";
                               }),
                missing.end());
  write_checkpoint(bad, qwen3_config(), missing, DType::kBF16, 1);
  try {
    Transformer::load(bad);
    ADD_FAILURE() << "a checkpoint without q_norm loaded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.self_attn.q_norm.weight"),
              std::string::npos)
        << e.what();
  }
  json sw = qwen3_config();
  sw["use_sliding_window"] = true;
  EXPECT_THROW(ModelConfig::from_hf_json(sw, "config.json"), InputError);
}

TEST(ExportHf, F16Gpt2WithMaskBuffers) {
  std::mt19937 rng(9);
  const fs::path src = scratch("gpt2") / "src";
  fs::create_directories(src);
  const int C = 32, L = 1;
  std::vector<Raw> ts;
  const DType t = DType::kF16;
  ts.push_back(random_tensor("transformer.wte.weight", {272, C}, t, rng));
  ts.push_back(random_tensor("transformer.wpe.weight", {16, C}, t, rng));
  for (int l = 0; l < L; ++l) {
    const std::string p = "transformer.h." + std::to_string(l) + ".";
    ts.push_back(random_tensor(p + "ln_1.weight", {C}, t, rng));
    ts.push_back(random_tensor(p + "ln_1.bias", {C}, t, rng));
    ts.push_back(random_tensor(p + "attn.c_attn.weight", {C, 3 * C}, t, rng));  // Conv1D (in, out)
    ts.push_back(random_tensor(p + "attn.c_attn.bias", {3 * C}, t, rng));
    ts.push_back(random_tensor(p + "attn.c_proj.weight", {C, C}, t, rng));
    ts.push_back(random_tensor(p + "attn.c_proj.bias", {C}, t, rng));
    ts.push_back(random_tensor(p + "attn.bias", {1, 1, 16, 16}, t, rng));  // causal-mask buffer
    ts.push_back(random_tensor(p + "ln_2.weight", {C}, t, rng));
    ts.push_back(random_tensor(p + "ln_2.bias", {C}, t, rng));
    ts.push_back(random_tensor(p + "mlp.c_fc.weight", {C, 4 * C}, t, rng));
    ts.push_back(random_tensor(p + "mlp.c_fc.bias", {4 * C}, t, rng));
    ts.push_back(random_tensor(p + "mlp.c_proj.weight", {4 * C, C}, t, rng));
    ts.push_back(random_tensor(p + "mlp.c_proj.bias", {C}, t, rng));
  }
  ts.push_back(random_tensor("transformer.ln_f.weight", {C}, t, rng));
  ts.push_back(random_tensor("transformer.ln_f.bias", {C}, t, rng));
  json cfg = {{"architectures", {"GPT2LMHeadModel"}},
              {"model_type", "gpt2"},
              {"n_embd", C},
              {"n_layer", L},
              {"n_head", 2},
              {"n_positions", 16},
              {"vocab_size", 272}};
  write_checkpoint(src, cfg, ts, t, 1);
  ExportOptions o;
  o.model = src;
  o.format = "hf";
  o.output = src.parent_path() / "out";
  run_export(o);
  expect_identical(o.output, ts, t, {"transformer.h.0.attn.bias"});
}

TEST(ExportHf, LoraAdapterIsMerged) {
  std::mt19937 rng(10);
  const fs::path root = scratch("lora");
  const fs::path base = root / "base", adapter = root / "run" / "final";
  fs::create_directories(base);
  fs::create_directories(adapter);
  const std::vector<Raw> ts = llama_tensors(1, 64, 64, 32, 96, false, true, DType::kF32, rng);
  json cfg = qwen2_config();
  cfg["model_type"] = "llama";
  cfg["architectures"] = {"LlamaForCausalLM"};
  cfg["num_hidden_layers"] = 1;
  write_checkpoint(base, cfg, ts, DType::kF32, 1);
  // r = 2, alpha = 8: scale 4. Adapt q_proj (64, 64) and v_proj (32, 64).
  const int r = 2;
  std::vector<Raw> lora = {
      random_tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", {r, 64},
                    DType::kF32, rng),
      random_tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", {64, r},
                    DType::kF32, rng),
      random_tensor("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", {r, 64},
                    DType::kF32, rng),
      random_tensor("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", {32, r},
                    DType::kF32, rng)};
  std::vector<NamedTensor> nt;
  for (const Raw& x : lora) nt.push_back({x.name, DType::kF32, x.shape, x.bytes.data()});
  save_safetensors(adapter / "adapter_model.safetensors", nt);
  write_file_atomic(adapter / "adapter_config.json",
                    json({{"peft_type", "LORA"},
                          {"r", r},
                          {"lora_alpha", 8},
                          {"bias", "none"},
                          {"base_model_name_or_path", "../../base"},
                          {"target_modules", {"q_proj", "v_proj"}}})
                        .dump());
  ExportOptions o;
  o.model = root / "run";  // a run directory: final/ holds the adapter
  o.format = "hf";
  o.output = root / "merged";
  ExportReport rep = run_export(o);
  EXPECT_TRUE(rep.lora_merged);
  SafetensorsFile out = SafetensorsFile::open(o.output / "model.safetensors");
  auto floats = [](const Raw& x) {
    std::vector<float> v(x.bytes.size() / 4);
    std::memcpy(v.data(), x.bytes.data(), x.bytes.size());
    return v;
  };
  for (auto [module, rows, ai] :
       std::vector<std::tuple<std::string, int, int>>{{"q_proj", 64, 0}, {"v_proj", 32, 2}}) {
    const std::string w = "model.layers.0.self_attn." + module + ".weight";
    const Raw* src = nullptr;
    for (const Raw& x : ts)
      if (x.name == w) src = &x;
    ASSERT_NE(src, nullptr);
    const std::vector<float> W = floats(*src), A = floats(lora[size_t(ai)]),
                             B = floats(lora[size_t(ai) + 1]);
    std::vector<float> got(W.size());
    out.read_f32(w, got.data(), got.size());
    double worst = 0;
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < 64; ++j) {
        double d = W[size_t(i * 64 + j)];
        for (int k = 0; k < r; ++k) d += 4.0 * B[size_t(i * r + k)] * A[size_t(k * 64 + j)];
        worst = std::max(worst, std::fabs(d - got[size_t(i * 64 + j)]));
      }
    EXPECT_LT(worst, 1e-5) << module;
    EXPECT_GT(std::fabs(got[0] - W[0]) + std::fabs(got[70] - W[70]), 1e-4) << "nothing merged";
  }
  // Untouched weights are byte-identical; the tokenizer comes from the base model.
  expect_identical(
      o.output, ts, DType::kF32, {},
      {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.v_proj.weight"});
  EXPECT_TRUE(fs::exists(o.output / "tokenizer.json"));
  // An adapter for a module the model lacks is refused by name.
  Raw bad = lora[0];
  bad.name = "base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight";
  Raw badb = lora[1];
  badb.name = "base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight";
  save_safetensors(adapter / "adapter_model.safetensors",
                   {{bad.name, DType::kF32, bad.shape, bad.bytes.data()},
                    {badb.name, DType::kF32, badb.shape, badb.bytes.data()}});
  EXPECT_THROW(run_export(o), InputError);
}

TEST(ExportHf, GptConv1dLoraUsesOutInOrientation) {
  // PEFT keeps lora_A (r, in) and lora_B (out, r) for GPT-2's Conv1D too (fan_in_fan_out): the
  // HF file's (in, out) weight must gain (s·B·A)ᵀ.
  ModelConfig c = ModelConfig::preset("tiny", 272);
  c.n_layer = 1, c.n_head = c.n_kv_head = 2, c.n_embd = 32, c.head_dim = 16, c.ffn_hidden = 64;
  c.n_ctx = 16;
  Transformer m(c);
  m.init_weights(1);
  const fs::path dir = scratch("gpt2lora");
  m.save(dir);
  fs::copy_file(fs::path(LMFORGE_SOURCE_DIR) / "tests/data/fixtures/tiny_tokenizer/tokenizer.json",
                dir / "tokenizer.json");
  std::vector<float> A(1 * 32, 0.0f), B(96 * 1, 0.0f);
  A[3] = 1.0f;   // in = 3
  B[40] = 0.5f;  // out = 40
  save_safetensors(dir / "adapter_model.safetensors",
                   {{"base_model.model.transformer.h.0.attn.c_attn.lora_A.weight",
                     DType::kF32,
                     {1, 32},
                     A.data()},
                    {"base_model.model.transformer.h.0.attn.c_attn.lora_B.weight",
                     DType::kF32,
                     {96, 1},
                     B.data()}});
  write_file_atomic(dir / "adapter_config.json", R"({"r": 1, "lora_alpha": 2})");
  const float before = m.params().get("transformer.h.0.attn.c_attn.weight")[40 * 32 + 3];
  ExportOptions o;
  o.model = dir;
  o.format = "hf";
  o.output = dir.parent_path() / "gpt2merged";
  run_export(o);
  SafetensorsFile f = SafetensorsFile::open(o.output / "model.safetensors");
  ASSERT_EQ(f.shape("transformer.h.0.attn.c_attn.weight"), (std::vector<int64_t>{32, 96}));
  std::vector<float> w(32 * 96);
  f.read_f32("transformer.h.0.attn.c_attn.weight", w.data(), w.size());
  EXPECT_FLOAT_EQ(w[3 * 96 + 40], before + 2.0f * 0.5f);  // (in=3, out=40) in the file's layout
}

TEST(ExportHf, CliRefusesBadOptions) {
  const fs::path dir = scratch("cli");
  EXPECT_EQ(run_cli("export --model " + dir.string() + " --output x.gguf"), 2);  // not a model
  EXPECT_EQ(run_cli("export --model " + dir.string() + " --output x --format onnx"), 2);
  EXPECT_EQ(run_cli("export --model " + dir.string() + " --output x --dtype q4_k"), 2);
  std::mt19937 rng(1);
  write_checkpoint(dir, qwen2_config(),
                   llama_tensors(2, 64, 64, 32, 96, true, true, DType::kF32, rng), DType::kF32, 1);
  EXPECT_EQ(run_cli("export --model " + dir.string() + " --format hf --dtype q8_0 --output " +
                    (dir / "o").string()),
            2);
  // Not inside the model directory: an output inside an input directory is refused (FILES.md).
  const fs::path gguf = dir.parent_path() / "cli-q8_0.gguf";
  EXPECT_EQ(run_cli("export --model " + dir.string() + " --format gguf --dtype q8_0 --output " +
                    (dir / "o.gguf").string()),
            2);
  EXPECT_EQ(run_cli("export --model " + dir.string() + " --format gguf --dtype q8_0 --output " +
                    gguf.string()),
            0);
  EXPECT_TRUE(GgufFile::open(gguf).has_tensor("blk.1.attn_v.bias"));
}
