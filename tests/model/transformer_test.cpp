// Transformer: arena layout (packed q|k|v and gate|up), initialization statistics, loss
// semantics (masking, loss_scale), model directory save → load (identical weights and logits,
// HF names and Conv1D shapes, F16/BF16 checkpoints), load errors, and a tiny model that
// overfits one batch with plain SGD.
#include "lmforge/model/transformer.h"

#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/rng.h"
#include "lmforge/io/safetensors.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {
fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("lmforge-tf-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

ModelConfig small_cfg(const std::string& arch) {
  ModelConfig c = ModelConfig::preset(arch == "gpt2" ? "tiny" : "llama-tiny", 50);
  c.n_layer = 2;
  c.n_embd = 32;
  c.n_head = 4;
  c.n_kv_head = arch == "gpt2" ? 4 : 2;
  c.head_dim = 8;
  c.ffn_hidden = arch == "gpt2" ? 128 : 40;
  c.n_ctx = 32;
  return c;
}

struct Batch {
  std::vector<int32_t> ids, targets;
};
Batch random_batch(int B, int T, int V, uint64_t seed) {
  Rng r(seed);
  Batch b;
  std::vector<int32_t> seq(B * (T + 1));
  for (auto& x : seq) x = int32_t(r.below(V));
  for (int i = 0; i < B; ++i)
    for (int t = 0; t < T; ++t) {
      b.ids.push_back(seq[i * (T + 1) + t]);
      b.targets.push_back(seq[i * (T + 1) + t + 1]);
    }
  return b;
}

// Mean cross-entropy recomputed in double from logits.
double reference_loss(const float* logits, const std::vector<int32_t>& targets, int V) {
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] < 0) continue;
    const float* row = logits + i * V;
    double mx = row[0];
    for (int v = 1; v < V; ++v) mx = std::max(mx, double(row[v]));
    double s = 0;
    for (int v = 0; v < V; ++v) s += std::exp(double(row[v]) - mx);
    sum += mx + std::log(s) - row[targets[i]];
    ++n;
  }
  return n ? sum / n : 0.0;
}
}  // namespace

TEST(Transformer, LlamaPacksQkvAndGateUp) {
  Transformer m(small_cfg("llama"));
  ParamArena& p = m.params();
  const std::string L = "model.layers.1.";
  EXPECT_EQ(p.get(L + "self_attn.k_proj.weight"), p.get(L + "self_attn.q_proj.weight") + 32 * 32);
  EXPECT_EQ(p.get(L + "self_attn.v_proj.weight"), p.get(L + "self_attn.k_proj.weight") + 16 * 32);
  EXPECT_EQ(p.get(L + "mlp.up_proj.weight"), p.get(L + "mlp.gate_proj.weight") + 40 * 32);
  EXPECT_EQ(int64_t(p.numel()), m.config().num_params());
  EXPECT_TRUE(p.has("lm_head.weight"));  // untied by default for llama
  EXPECT_EQ(m.grads().numel(), p.numel());
  EXPECT_TRUE(m.is_decayed(L + "self_attn.q_proj.weight"));
  EXPECT_FALSE(m.is_decayed(L + "input_layernorm.weight"));
  Transformer g(small_cfg("gpt2"));
  EXPECT_FALSE(g.params().has("lm_head.weight"));
  EXPECT_FALSE(g.is_decayed("transformer.h.0.attn.c_attn.bias"));
  EXPECT_TRUE(g.is_decayed("transformer.wte.weight"));
}

TEST(Transformer, InitStatistics) {
  ModelConfig c = ModelConfig::preset("tiny", 512);
  Transformer m(c), m2(c);
  m.init_weights(1234);
  m2.init_weights(1234);
  EXPECT_EQ(std::memcmp(m.params().data(), m2.params().data(), m.params().numel() * 4), 0);
  auto stats = [&](const std::string& n) {
    const TensorInfo& t = m.params().info(n);
    const float* w = m.params().get(n);
    double s = 0, s2 = 0;
    for (size_t i = 0; i < t.numel; ++i) {
      s += w[i];
      s2 += double(w[i]) * w[i];
    }
    return std::pair<double, double>{s / t.numel, std::sqrt(s2 / t.numel)};
  };
  EXPECT_NEAR(stats("transformer.wte.weight").second, 0.02, 0.001);
  EXPECT_NEAR(stats("transformer.h.0.attn.c_attn.weight").second, 0.02, 0.001);
  EXPECT_NEAR(stats("transformer.h.3.mlp.c_proj.weight").second, 0.02 / std::sqrt(8.0), 0.0005);
  EXPECT_EQ(stats("transformer.h.0.ln_1.weight"), (std::pair<double, double>{1.0, 1.0}));
  EXPECT_EQ(stats("transformer.h.0.mlp.c_fc.bias").second, 0.0);
  m2.init_weights(99);
  EXPECT_NE(std::memcmp(m.params().data(), m2.params().data(), m.params().numel() * 4), 0);
}

TEST(Transformer, LossMatchesLogitsMaskingAndScale) {
  for (const char* arch : {"gpt2", "llama"}) {
    SCOPED_TRACE(arch);
    ModelConfig c = small_cfg(arch);
    Transformer m(c);
    m.init_weights(7);
    const int B = 3, T = 11, V = c.vocab_size;
    Batch b = random_batch(B, T, V, 3);
    b.targets[0] = -1;
    b.targets[17] = -100;  // HF's ignore index is masked too
    std::vector<float> logits(m.forward_logits(b.ids.data(), B, T),
                              m.forward_logits(b.ids.data(), B, T) + B * T * V);
    const double ref = reference_loss(logits.data(), b.targets, V);
    EXPECT_NEAR(ref, std::log(double(V)), 0.1);  // near-uniform at init
    m.zero_grad();
    const float loss = m.forward(b.ids.data(), b.targets.data(), B, T);
    EXPECT_NEAR(loss, ref, 1e-5);
    EXPECT_EQ(m.last_unmasked(), B * T - 2);
    EXPECT_EQ(m.last_losses()[0], 0.0f);
    m.backward();
    std::vector<float> g1(m.grads().data(), m.grads().data() + m.grads().numel());
    m.zero_grad();
    m.forward(b.ids.data(), b.targets.data(), B, T);
    m.backward(0.5f);
    double max_diff = 0, max_g = 0;
    for (size_t i = 0; i < g1.size(); ++i) {
      max_diff = std::max(max_diff, double(std::abs(m.grads().data()[i] - 0.5f * g1[i])));
      max_g = std::max(max_g, double(std::abs(g1[i])));
    }
    EXPECT_GT(max_g, 0.0);
    EXPECT_LE(max_diff, 1e-6 * max_g);
    EXPECT_THROW(m.backward(), RuntimeError);  // one backward per forward

    // Everything masked: loss 0 and no gradient at all.
    std::vector<int32_t> none(B * T, -1);
    m.zero_grad();
    EXPECT_EQ(m.forward(b.ids.data(), none.data(), B, T), 0.0f);
    m.backward();
    for (size_t i = 0; i < m.grads().numel(); ++i) ASSERT_EQ(m.grads().data()[i], 0.0f);

    std::vector<int32_t> bad = b.ids;
    bad[4] = V;
    EXPECT_THROW(m.forward_logits(bad.data(), B, T), RuntimeError);
    EXPECT_THROW(m.forward_logits(b.ids.data(), 1, c.n_ctx + 1), RuntimeError);
  }
}

TEST(Transformer, SaveLoadRoundTrip) {
  for (const char* arch : {"gpt2", "llama"}) {
    SCOPED_TRACE(arch);
    fs::path d = fresh_dir(std::string("rt-") + arch);
    ModelConfig c = small_cfg(arch);
    c.bos_token_id = 1;
    c.eos_token_id = 2;
    Transformer m(c);
    m.init_weights(42);
    // Make biases and norms non-trivial so a transposition or mix-up would show.
    Rng r(9);
    for (size_t i = 0; i < m.params().numel(); ++i)
      m.params().data()[i] += float(0.01 * r.normal());
    m.save(d);
    for (const char* f : {"config.json", "model.safetensors", "generation_config.json"})
      EXPECT_TRUE(fs::exists(d / f)) << f;
    auto gen = nlohmann::json::parse(read_file(d / "generation_config.json"));
    EXPECT_EQ(gen["eos_token_id"], 2);

    Transformer back = Transformer::load(d);
    ASSERT_EQ(back.params().numel(), m.params().numel());
    EXPECT_EQ(std::memcmp(back.params().data(), m.params().data(), m.params().numel() * 4), 0);
    EXPECT_EQ(back.config().eos_token_id, 2);
    Batch b = random_batch(2, 9, c.vocab_size, 1);
    const size_t n = 2 * 9 * size_t(c.vocab_size);
    std::vector<float> l1(m.forward_logits(b.ids.data(), 2, 9),
                          m.forward_logits(b.ids.data(), 2, 9) + n);
    const float* l2 = back.forward_logits(b.ids.data(), 2, 9);
    EXPECT_EQ(std::memcmp(l1.data(), l2, n * 4), 0);

    // HF names and shapes on disk.
    SafetensorsFile f = SafetensorsFile::open(d / "model.safetensors");
    if (std::string(arch) == "gpt2") {
      const std::string w = "transformer.h.1.attn.c_attn.weight";
      EXPECT_EQ(f.shape(w), (std::vector<int64_t>{32, 96}));  // Conv1D: (in, out)
      EXPECT_EQ(f.shape("transformer.h.0.mlp.c_fc.weight"), (std::vector<int64_t>{32, 128}));
      EXPECT_EQ(f.shape("transformer.h.0.mlp.c_proj.weight"), (std::vector<int64_t>{128, 32}));
      std::vector<float> disk(32 * 96);
      f.read_f32(w, disk.data(), disk.size());
      const float* ours = m.params().get(w);  // (out, in)
      EXPECT_EQ(disk[5 * 96 + 70], ours[70 * 32 + 5]);
      EXPECT_FALSE(f.has("lm_head.weight"));
    } else {
      EXPECT_EQ(f.shape("model.layers.0.self_attn.k_proj.weight"), (std::vector<int64_t>{16, 32}));
      EXPECT_EQ(f.shape("model.layers.0.mlp.gate_proj.weight"), (std::vector<int64_t>{40, 32}));
      EXPECT_TRUE(f.has("lm_head.weight"));
    }
    EXPECT_EQ(f.metadata().at("format"), "pt");
    fs::remove_all(d);
  }
}

TEST(Transformer, LoadsHalfPrecisionAndPrefixlessGpt2) {
  fs::path d = fresh_dir("half");
  ModelConfig c = small_cfg("gpt2");
  Transformer m(c);
  m.init_weights(3);
  m.save(d);
  // Rewrite the checkpoint as BF16 with OpenAI's prefix-less names plus the causal-mask buffer.
  SafetensorsFile f = SafetensorsFile::open(d / "model.safetensors");
  std::vector<std::vector<uint16_t>> store;
  std::vector<NamedTensor> out;
  std::vector<std::string> names = f.names();
  store.reserve(names.size() + 1);
  for (const std::string& n : names) {
    std::vector<float> x(f.numel(n));
    f.read_f32(n, x.data(), x.size());
    store.emplace_back();
    for (float v : x) store.back().push_back(f32_to_bf16(v));
    out.push_back({n.substr(std::string("transformer.").size()), DType::kBF16, f.shape(n),
                   store.back().data()});
  }
  store.emplace_back(32 * 32, f32_to_bf16(1.0f));
  out.push_back({"h.0.attn.bias", DType::kBF16, {1, 1, 32, 32}, store.back().data()});
  save_safetensors(d / "model.safetensors", out);
  Transformer back = Transformer::load(d);
  double max_rel = 0;
  for (size_t i = 0; i < m.params().numel(); ++i) {
    float a = m.params().data()[i], b = back.params().data()[i];
    if (a != 0) max_rel = std::max(max_rel, double(std::abs(a - b) / std::abs(a)));
  }
  EXPECT_LT(max_rel, 1.0 / 256);  // bf16 keeps 8 significant bits
  EXPECT_GT(max_rel, 0.0);
  fs::remove_all(d);
}

TEST(Transformer, LoadErrorsNameTheTensor) {
  fs::path d = fresh_dir("errors");
  ModelConfig c = small_cfg("llama");
  Transformer m(c);
  m.save(d);
  SafetensorsFile f = SafetensorsFile::open(d / "model.safetensors");
  std::vector<std::vector<float>> store;
  std::vector<NamedTensor> base;
  store.reserve(64);
  for (const std::string& n : f.names()) {
    store.emplace_back(f.numel(n));
    f.read_f32(n, store.back().data(), store.back().size());
    base.push_back({n, DType::kF32, f.shape(n), store.back().data()});
  }
  auto expect_field = [&](const std::vector<NamedTensor>& ts, const std::string& field) {
    save_safetensors(d / "model.safetensors", ts);
    try {
      Transformer::load(d);
      ADD_FAILURE() << "no error, expected one about " << field;
    } catch (const InputError& e) {
      EXPECT_EQ(e.field(), field) << e.what();
    }
  };
  auto ts = base;
  ts.erase(std::find_if(ts.begin(), ts.end(),
                        [](auto& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; }));
  expect_field(ts, "model.layers.1.mlp.up_proj.weight");
  ts = base;
  for (auto& t : ts)
    if (t.name == "model.norm.weight") t.shape = {4, 8};
  expect_field(ts, "model.norm.weight");
  ts = base;
  ts.push_back({"model.layers.0.self_attn.q_norm.weight", DType::kF32, {8}, store[0].data()});
  expect_field(ts, "model.layers.0.self_attn.q_norm.weight");
  write_file_atomic(d / "config.json", "{\"model_type\": \"llama\",");
  EXPECT_THROW(Transformer::load(d), InputError);
  EXPECT_THROW(Transformer::load(d / "nope"), InputError);
  fs::remove_all(d);
}

TEST(Transformer, OverfitsOneBatchWithSgd) {
  omp_set_num_threads(1);  // 60 steps of a toy model: threads would only add barrier cost
  for (const char* arch : {"gpt2", "llama"}) {
    SCOPED_TRACE(arch);
    ModelConfig c = small_cfg(arch);
    Transformer m(c);
    m.init_weights(0);
    Batch b = random_batch(4, 16, c.vocab_size, 77);
    float first = 0, last = 0;
    for (int step = 0; step < 30; ++step) {
      m.zero_grad();
      last = m.forward(b.ids.data(), b.targets.data(), 4, 16);
      if (step == 0) first = last;
      ASSERT_TRUE(std::isfinite(last));
      m.backward();
      float* p = m.params().data();
      const float* g = m.grads().data();
      for (size_t i = 0; i < m.params().numel(); ++i) p[i] -= 0.5f * g[i];
    }
    std::printf("%s: loss %.3f -> %.3f after 30 SGD steps\n", arch, first, last);
    EXPECT_LT(last, 0.6f * first);
  }
}

TEST(Transformer, LoadsShardedCheckpoint) {
  fs::path d = fresh_dir("sharded");
  Transformer m(small_cfg("llama"));
  m.init_weights(5);
  m.save(d);
  // Split the file the way HF's save_pretrained(max_shard_size=...) does.
  SafetensorsFile f = SafetensorsFile::open(d / "model.safetensors");
  std::vector<std::vector<float>> store;
  std::vector<NamedTensor> shard[2];
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  const std::vector<std::string> names = f.names();
  store.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    store.emplace_back(f.numel(names[i]));
    f.read_f32(names[i], store.back().data(), store.back().size());
    const int s = i % 2;
    shard[s].push_back({names[i], DType::kF32, f.shape(names[i]), store.back().data()});
    index["weight_map"][names[i]] = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
  }
  save_safetensors(d / "model-00001-of-00002.safetensors", shard[0]);
  save_safetensors(d / "model-00002-of-00002.safetensors", shard[1]);
  fs::remove(d / "model.safetensors");
  write_file_atomic(d / "model.safetensors.index.json", index.dump());
  Transformer back = Transformer::load(d);
  EXPECT_EQ(std::memcmp(back.params().data(), m.params().data(), m.params().numel() * 4), 0);
  // An index entry pointing at the wrong shard is named.
  const std::string right = index["weight_map"]["model.norm.weight"];
  index["weight_map"]["model.norm.weight"] = right == "model-00001-of-00002.safetensors"
                                                 ? "model-00002-of-00002.safetensors"
                                                 : "model-00001-of-00002.safetensors";
  write_file_atomic(d / "model.safetensors.index.json", index.dump());
  try {
    Transformer::load(d);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "model.norm.weight");
  }
  index["weight_map"]["model.norm.weight"] = "../evil.safetensors";
  write_file_atomic(d / "model.safetensors.index.json", index.dump());
  EXPECT_THROW(Transformer::load(d), InputError);
  fs::remove_all(d);
}
