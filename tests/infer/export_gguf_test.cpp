// GGUF export: the file read back by our reader rebuilds the source model bit for bit (f32) and
// its logits equal the source's; f16/bf16/q8_0 stay within their rounding; the metadata and
// tensor names are llama.cpp's, Llama Q/K rows are in llama.cpp's interleaved order (Qwen3's stay
// in HF order, with attn_q_norm / attn_k_norm), and the vocabulary is the tokenizer's. Also writes
// the cases for the llama.cpp end-to-end test (tests/e2e/llamacpp_e2e.sh): with
// LMFORGE_LLAMACPP_CASES=DIR set, DIR receives the GGUF files and cases.json (prompt, our prompt
// ids, our greedy continuation, expected metadata).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/infer/generate.h"
#include "lmforge/infer/loaded_model.h"
#include "lmforge/model/export.h"

using namespace lmforge;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const fs::path kTokenizerDir = fs::path(LMFORGE_SOURCE_DIR) / "tests/data/fixtures/tiny_tokenizer";

fs::path scratch(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("lmforge-export-gguf-" + std::to_string(getpid())) / name;
  fs::create_directories(d);
  return d;
}

ModelConfig tiny_gpt2() {
  ModelConfig c = ModelConfig::preset("tiny", 272);
  c.n_layer = 2, c.n_head = c.n_kv_head = 4, c.n_embd = 64, c.head_dim = 16, c.ffn_hidden = 128;
  c.n_ctx = 64;
  c.eos_token_id = c.bos_token_id = 271;
  return c;
}

// Grouped-query attention, head_dim (32) ≠ C/NH (16), Qwen2-style q/k/v biases without an
// o_proj bias, untied head.
ModelConfig tiny_llama_gqa() {
  ModelConfig c = ModelConfig::preset("llama-tiny", 272);
  c.n_layer = 2, c.n_head = 4, c.n_kv_head = 2, c.n_embd = 64, c.head_dim = 32, c.ffn_hidden = 96;
  c.n_ctx = 64;
  c.attn_bias = true, c.attn_out_bias = false, c.hf_family = "qwen2";
  c.tie_embeddings = false;
  c.rope_theta = 5000.0f;
  c.eos_token_id = 271;
  return c;
}

// Qwen3: q/k RMSNorm per head, head_dim (32) ≠ C/NH (16), grouped-query attention, tied head.
ModelConfig tiny_qwen3() {
  ModelConfig c = ModelConfig::preset("qwen3-tiny", 272);
  c.n_layer = 2, c.n_head = 4, c.n_kv_head = 2, c.n_embd = 64, c.head_dim = 32, c.ffn_hidden = 96;
  c.n_ctx = 64;
  c.eos_token_id = 271;
  return c;
}

// GPT-2 init plus noise on every tensor (biases and norm weights included, so that every path
// shows), matrices scaled up so that greedy choices are decided by clear margins.
Transformer random_model(const ModelConfig& c, uint64_t seed) {
  Transformer m(c);
  m.init_weights(seed);
  std::mt19937 rng{uint32_t(seed)};
  std::normal_distribution<float> nd;
  for (const TensorInfo& t : m.params().entries()) {
    float* x = m.params().get(t.name);
    if (!c.attn_out_bias && t.name.find("o_proj.bias") != std::string::npos) continue;
    for (size_t i = 0; i < t.numel; ++i)
      x[i] = t.shape.size() == 2 ? 6.0f * x[i] + 0.05f * nd(rng) : x[i] + 0.1f * nd(rng);
  }
  return m;
}

fs::path save_model_dir(const Transformer& m, const fs::path& dir) {
  fs::create_directories(dir);
  m.save(dir);
  fs::copy_file(kTokenizerDir / "tokenizer.json", dir / "tokenizer.json",
                fs::copy_options::overwrite_existing);
  write_file_atomic(
      dir / "tokenizer_config.json",
      R"({"chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"})");
  return dir;
}

void expect_same_params(const Transformer& a, const Transformer& b, float tol) {
  ASSERT_EQ(a.params().entries().size(), b.params().entries().size());
  for (const TensorInfo& t : a.params().entries()) {
    const float* x = a.params().get(t.name);
    const float* y = b.params().get(t.name);
    float worst = 0;
    for (size_t i = 0; i < t.numel; ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
    EXPECT_LE(worst, tol * 1.0f) << t.name;
  }
}

std::vector<float> logits(Transformer& m, const std::vector<int32_t>& ids) {
  const float* l = m.forward_logits(ids.data(), 1, int(ids.size()));
  return std::vector<float>(l, l + ids.size() * size_t(m.config().vocab_size));
}

// Our greedy continuation through the inference engine (the path of `lmforge generate
// --temperature 0`), and the smallest top-1/top-2 logit gap along it from a full recompute.
std::vector<int32_t> greedy(const fs::path& dir, const std::vector<int32_t>& prompt, int n,
                            float* min_gap) {
  auto lm = LoadedModel::load(dir);
  GenerateRequest req;
  req.prompt = prompt;
  req.max_tokens = n;
  req.sampling.temperature = 0;
  Sequence seq(*lm->infer, lm->tokenizer, std::move(req));
  Sequence* one = &seq;
  while (!seq.done()) step(*lm->infer, {&one, 1});
  std::vector<int32_t> out = seq.generated();
  std::vector<int32_t> all = prompt;
  *min_gap = 1e30f;
  const int V = lm->model.config().vocab_size;
  for (size_t k = 0; k < out.size(); ++k) {
    const float* l =
        lm->model.forward_logits(all.data(), 1, int(all.size())) + (all.size() - 1) * size_t(V);
    int best = 0;
    for (int v = 1; v < V; ++v)
      if (l[v] > l[best]) best = v;
    float second = -1e30f;
    for (int v = 0; v < V; ++v)
      if (v != best) second = std::max(second, l[v]);
    EXPECT_EQ(best, out[k]) << "engine and full recompute disagree at step " << k;
    *min_gap = std::min(*min_gap, l[best] - second);
    all.push_back(out[k]);
  }
  return out;
}

}  // namespace

TEST(ExportGguf, TensorNamesFollowLlamaCpp) {
  const ModelConfig g = tiny_gpt2(), l = tiny_llama_gqa();
  EXPECT_EQ(gguf_tensor_name(g, "transformer.wte.weight"), "token_embd.weight");
  EXPECT_EQ(gguf_tensor_name(g, "transformer.wpe.weight"), "position_embd.weight");
  EXPECT_EQ(gguf_tensor_name(g, "transformer.h.1.attn.c_attn.bias"), "blk.1.attn_qkv.bias");
  EXPECT_EQ(gguf_tensor_name(g, "transformer.h.0.mlp.c_proj.weight"), "blk.0.ffn_down.weight");
  EXPECT_EQ(gguf_tensor_name(g, "transformer.ln_f.bias"), "output_norm.bias");
  EXPECT_EQ(gguf_tensor_name(l, "model.layers.1.self_attn.k_proj.weight"), "blk.1.attn_k.weight");
  EXPECT_EQ(gguf_tensor_name(l, "model.layers.0.post_attention_layernorm.weight"),
            "blk.0.ffn_norm.weight");
  EXPECT_EQ(gguf_tensor_name(l, "model.layers.0.mlp.gate_proj.weight"), "blk.0.ffn_gate.weight");
  EXPECT_EQ(gguf_tensor_name(l, "model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(gguf_tensor_name(l, "lm_head.weight"), "output.weight");
}

TEST(ExportGguf, RopePermutationMatchesConverter) {
  // convert_hf_to_gguf.py: w.reshape(H, 2, HS/2, cols).swapaxes(1, 2).reshape(w.shape).
  const int H = 2, HS = 6, cols = 3;
  std::vector<float> w(H * HS * cols), p(w.size()), back(w.size());
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i);
  permute_rope_rows(w.data(), p.data(), H, HS, cols, false);
  for (int h = 0; h < H; ++h)
    for (int j = 0; j < HS / 2; ++j)
      for (int i = 0; i < 2; ++i)
        for (int c = 0; c < cols; ++c)
          EXPECT_EQ(p[size_t(((h * HS) + 2 * j + i) * cols + c)],
                    w[size_t(((h * HS) + i * HS / 2 + j) * cols + c)]);
  permute_rope_rows(p.data(), back.data(), H, HS, cols, true);
  EXPECT_EQ(back, w);
}

TEST(ExportGguf, F32RoundTripIsExactAndLogitsEqual) {
  for (const ModelConfig& c : {tiny_gpt2(), tiny_llama_gqa(), tiny_qwen3()}) {
    SCOPED_TRACE(c.arch);
    Transformer src = random_model(c, 11);
    const fs::path dir = save_model_dir(src, scratch(c.arch + "-f32") / "model");
    ExportOptions o;
    o.model = dir;
    o.output = dir.parent_path() / "model.gguf";
    o.dtype = "f32";
    ExportReport r = run_export(o);
    EXPECT_EQ(r.dtype, "F32");
    GgufFile g = GgufFile::open(o.output);
    Transformer back = transformer_from_gguf(g);
    EXPECT_EQ(back.config().head_dim, c.head_dim);
    EXPECT_EQ(back.config().n_kv_head, c.n_kv_head);
    EXPECT_EQ(back.config().tie_embeddings, c.tie_embeddings);
    EXPECT_EQ(back.config().attn_out_bias, c.attn_out_bias);
    EXPECT_EQ(back.config().rope_theta, c.rope_theta);
    expect_same_params(src, back, 0.0f);
    const std::vector<int32_t> ids = {5, 17, 250, 3, 99, 271, 42};
    EXPECT_EQ(logits(src, ids), logits(back, ids));
  }
}

TEST(ExportGguf, ReducedPrecisionStaysWithinRounding) {
  const ModelConfig c = tiny_llama_gqa();
  Transformer src = random_model(c, 5);
  const fs::path dir = save_model_dir(src, scratch("lowp") / "model");
  const std::vector<int32_t> ids = {1, 2, 3, 100, 200};
  const std::vector<float> ref = logits(src, ids);
  // Relative weight error of each format (f16: 2^-11, bf16: 2^-8, q8_0: half a step of max/127).
  for (auto [dtype, rel] : std::vector<std::pair<std::string, float>>{
           {"f16", 1e-3f}, {"bf16", 8e-3f}, {"q8_0", 2e-2f}}) {
    SCOPED_TRACE(dtype);
    ExportOptions o;
    o.model = dir;
    o.output = dir.parent_path() / (dtype + ".gguf");
    o.dtype = dtype;
    run_export(o);
    GgufFile g = GgufFile::open(o.output);
    EXPECT_EQ(g.tensor("blk.0.attn_norm.weight").type, GgmlType::kF32);  // 1-D stays f32
    EXPECT_EQ(g.tensor("blk.0.attn_q.bias").type, GgmlType::kF32);
    Transformer back = transformer_from_gguf(g);
    float wmax = 0;
    for (const TensorInfo& t : src.params().entries())
      for (size_t i = 0; i < t.numel; ++i)
        wmax = std::max(wmax, std::fabs(src.params().get(t.name)[i]));
    expect_same_params(src, back, rel * wmax);
    const std::vector<float> got = logits(back, ids);
    float lmax = 0, err = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      lmax = std::max(lmax, std::fabs(ref[i]));
      err = std::max(err, std::fabs(ref[i] - got[i]));
    }
    EXPECT_LT(err, 10 * rel * lmax) << "max |logit| " << lmax;
    EXPECT_GT(err, 0.0f);  // the rounding did happen
  }
}

TEST(ExportGguf, MetadataIsWhatLlamaCppReads) {
  const ModelConfig c = tiny_llama_gqa();
  Transformer src = random_model(c, 3);
  const fs::path dir = save_model_dir(src, scratch("meta") / "model");
  ExportOptions o;
  o.model = dir;
  o.output = dir.parent_path() / "m.gguf";
  o.dtype = "q8_0";
  o.name = "tiny";
  run_export(o);
  GgufFile g = GgufFile::open(o.output);
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.get("general.architecture").s, "llama");
  EXPECT_EQ(g.get("general.name").s, "tiny");
  EXPECT_EQ(g.get("general.file_type").u, 7u);
  EXPECT_EQ(g.get("llama.block_count").u, 2u);
  EXPECT_EQ(g.get("llama.embedding_length").u, 64u);
  EXPECT_EQ(g.get("llama.attention.head_count").u, 4u);
  EXPECT_EQ(g.get("llama.attention.head_count_kv").u, 2u);
  EXPECT_EQ(g.get("llama.attention.key_length").u, 32u);
  EXPECT_EQ(g.get("llama.rope.dimension_count").u, 32u);
  EXPECT_EQ(g.get("llama.rope.freq_base").f, 5000.0);
  EXPECT_EQ(g.get("llama.context_length").u, 64u);
  EXPECT_EQ(g.get("llama.feed_forward_length").u, 96u);
  EXPECT_EQ(g.get("tokenizer.ggml.model").s, "gpt2");
  EXPECT_EQ(g.get("tokenizer.ggml.pre").s, "gpt-2");
  EXPECT_EQ(g.get("tokenizer.ggml.eos_token_id").u, 271u);
  EXPECT_FALSE(g.get("tokenizer.ggml.add_bos_token").b);
  EXPECT_NE(g.get("tokenizer.chat_template").s.find("messages"), std::string::npos);
  // Vocabulary: byte-level strings of tokenizer.json, <|endoftext|> a control token, merges "a b".
  json tj = json::parse(read_file(kTokenizerDir / "tokenizer.json"));
  const GgufValue& tokens = g.get("tokenizer.ggml.tokens");
  const GgufValue& types = g.get("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens.arr.size(), 272u);
  for (auto it = tj["model"]["vocab"].begin(); it != tj["model"]["vocab"].end(); ++it) {
    EXPECT_EQ(tokens.arr[it.value().get<size_t>()].s, it.key());
    if (it.key() != "<|endoftext|>") {
      EXPECT_EQ(types.arr[it.value().get<size_t>()].i, 1);
    }
  }
  EXPECT_EQ(tokens.arr[271].s, "<|endoftext|>");
  EXPECT_EQ(types.arr[271].i, 3);
  const GgufValue& merges = g.get("tokenizer.ggml.merges");
  ASSERT_EQ(merges.arr.size(), tj["model"]["merges"].size());
  EXPECT_EQ(merges.arr[0].s, "Ġ t");
  // Shapes innermost first; no o_proj bias (Qwen2 style); untied head present.
  EXPECT_EQ(g.tensor("blk.0.attn_q.weight").ne, (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(g.tensor("blk.0.attn_k.weight").ne, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(g.tensor("blk.0.attn_q.weight").type, GgmlType::kQ8_0);
  EXPECT_FALSE(g.has_tensor("blk.0.attn_output.bias"));
  EXPECT_TRUE(g.has_tensor("output.weight"));
  // Q rows are permuted: GGUF row h*HS + 2j + i is HF row h*HS + i*HS/2 + j (checked on k, f32
  // would be exact; here compare the dequantized rows to the source within Q8_0 rounding).
  std::vector<float> k(size_t(64 * 64));
  g.read_f32("blk.1.attn_k.weight", k.data(), k.size());
  const float* hf = src.params().get("model.layers.1.self_attn.k_proj.weight");
  for (int h = 0; h < 2; ++h)
    for (int j = 0; j < 16; ++j)
      for (int i = 0; i < 2; ++i)
        for (int col = 0; col < 64; col += 7)
          EXPECT_NEAR(k[size_t((h * 32 + 2 * j + i) * 64 + col)],
                      hf[size_t((h * 32 + i * 16 + j) * 64 + col)], 0.05);
}

TEST(ExportGguf, Qwen3IsLlamaCppsQwen3Arch) {
  // llama.cpp's qwen3 uses rotate-half (NEOX) RoPE: q/k rows are written in HF order, unpermuted;
  // the per-head norms are attn_q_norm / attn_k_norm (HS), f32.
  const ModelConfig c = tiny_qwen3();
  Transformer src = random_model(c, 4);
  const fs::path dir = save_model_dir(src, scratch("qwen3-meta") / "model");
  ExportOptions o;
  o.model = dir;
  o.output = dir.parent_path() / "m.gguf";
  o.dtype = "bf16";
  run_export(o);
  GgufFile g = GgufFile::open(o.output);
  EXPECT_EQ(g.get("general.architecture").s, "qwen3");
  EXPECT_EQ(g.get("qwen3.block_count").u, 2u);
  EXPECT_EQ(g.get("qwen3.attention.head_count").u, 4u);
  EXPECT_EQ(g.get("qwen3.attention.head_count_kv").u, 2u);
  EXPECT_EQ(g.get("qwen3.attention.key_length").u, 32u);
  EXPECT_EQ(g.get("qwen3.attention.value_length").u, 32u);
  EXPECT_EQ(g.get("qwen3.rope.freq_base").f, 1e6);
  EXPECT_NEAR(g.get("qwen3.attention.layer_norm_rms_epsilon").f, 1e-6, 1e-12);
  EXPECT_EQ(g.tensor("blk.1.attn_q_norm.weight").ne, (std::vector<int64_t>{32}));
  EXPECT_EQ(g.tensor("blk.1.attn_k_norm.weight").type, GgmlType::kF32);
  EXPECT_EQ(g.tensor("blk.0.attn_q.weight").ne, (std::vector<int64_t>{64, 128}));
  EXPECT_FALSE(g.has_tensor("output.weight"));  // tied
  EXPECT_FALSE(g.has_tensor("blk.0.attn_q.bias"));
  std::vector<float> qn(32), k(size_t(64 * 64));
  g.read_f32("blk.1.attn_q_norm.weight", qn.data(), qn.size());
  const float* hq = src.params().get("model.layers.1.self_attn.q_norm.weight");
  for (int i = 0; i < 32; ++i) EXPECT_EQ(qn[size_t(i)], hq[i]);
  g.read_f32("blk.1.attn_k.weight", k.data(), k.size());  // bf16: compare within its rounding
  const float* hk = src.params().get("model.layers.1.self_attn.k_proj.weight");
  for (size_t i = 0; i < k.size(); ++i) EXPECT_NEAR(k[i], hk[i], 1e-2 * std::fabs(hk[i]) + 1e-6);
  EXPECT_EQ(gguf_tensor_name(c, "model.layers.3.self_attn.k_norm.weight"),
            "blk.3.attn_k_norm.weight");
}

TEST(ExportGguf, BadRequestsAreRefused) {
  Transformer src = random_model(tiny_gpt2(), 1);
  const fs::path dir = save_model_dir(src, scratch("bad") / "model");
  ExportOptions o;
  o.model = dir;
  o.output = dir.parent_path() / "x.gguf";
  o.dtype = "q4";
  EXPECT_THROW(run_export(o), UsageError);
  o.dtype = "f32";
  o.format = "onnx";
  EXPECT_THROW(run_export(o), UsageError);
  o.format = "gguf";
  o.model = dir.parent_path() / "missing";
  EXPECT_THROW(run_export(o), InputError);
  fs::remove(dir / "tokenizer.json");
  o.model = dir;
  EXPECT_THROW(run_export(o), InputError);
}

// The cases tests/e2e/llamacpp_e2e.sh hands to real llama.cpp: a tiny GPT-2, a tiny Llama with
// grouped-query attention and a tiny Qwen3 (q/k norms, llama.cpp's "qwen3" arch), exported as f32
// (greedy must match token for token) and q8_0 (must load and tokenize identically).
TEST(ExportGguf, LlamaCppCases) {
  const char* env = std::getenv("LMFORGE_LLAMACPP_CASES");
  const fs::path out = env && *env ? fs::path(env) : scratch("cases");
  fs::create_directories(out);
  const Tokenizer tok = Tokenizer::load(kTokenizerDir);
  const std::string prompt = "The cat sat on the mat and the dog";
  json cases = json::array();
  for (const ModelConfig& c : {tiny_gpt2(), tiny_llama_gqa(), tiny_qwen3()}) {
    // llama.cpp ends a generation at an end-of-generation token (<|endoftext|> here), ours with
    // --ignore-eos would not: take the first seed whose 20 greedy tokens do not contain it, with
    // clear margins. llama.cpp's f32 math differs from ours by float rounding (~1e-5 on these
    // logits), so a top-1/top-2 gap of 1e-3 along the way makes "the same tokens" a fair demand.
    std::vector<int32_t> cont;
    const std::vector<int32_t> ids = tok.encode(prompt);
    fs::path dir;
    int seed = 21;
    for (;; ++seed) {
      ASSERT_LT(seed, 40) << "no seed gives a clean greedy continuation for " << c.arch;
      Transformer src = random_model(c, uint64_t(seed));
      dir = save_model_dir(src, out / (c.arch + "-model"));
      float gap = 0;
      cont = greedy(dir, ids, 20, &gap);
      ASSERT_EQ(cont.size(), 20u);
      if (gap > 1e-3f && std::find(cont.begin(), cont.end(), 271) == cont.end()) break;
    }
    for (std::string dtype : {"f32", "q8_0"}) {
      ExportOptions o;
      o.model = dir;
      o.output = out / (c.arch + "-" + dtype + ".gguf");
      o.dtype = dtype;
      run_export(o);
      GgufFile g = GgufFile::open(o.output);
      json meta = json::object();
      for (const auto& [k, v] : g.metadata())
        if (v.type == GgufType::kString)
          meta[k] = v.s;
        else if (v.type == GgufType::kF32)
          meta[k] = v.f;
        else if (v.type == GgufType::kBool)
          meta[k] = v.b;
        else if (v.type != GgufType::kArray)
          meta[k] = v.as_int();
        else
          meta[k] = json{{"array_length", v.arr.size()}};
      json tensors = json::array();
      for (const auto& t : g.tensors())
        tensors.push_back(
            {{"name", t.name}, {"shape", t.ne}, {"dtype", uint32_t(t.type)}, {"offset", t.offset}});
      cases.push_back({{"name", c.arch + "-" + dtype},
                       {"gguf", o.output.string()},
                       {"prompt", prompt},
                       {"prompt_ids", ids},
                       {"greedy_ids", dtype == "f32" ? json(cont) : json(nullptr)},
                       {"metadata", meta},
                       {"tensors", tensors}});
    }
  }
  write_file_atomic(out / "cases.json", cases.dump(1) + "\n");
  if (!env) fs::remove_all(out.parent_path());
}
