// LoRA adapters end to end (model/lora.h through Transformer): every adapter tensor's gradient
// against finite differences of the whole model (A and B of every target, Llama's GQA k/v column
// slices and GPT-2's packed c_attn included), the input gradient that adapters pass down to the
// layers below, PEFT files (bitwise round trip, the adapter_config.json fields PEFT reads, load
// errors that name file and key), target parsing, optimizer memory sized to the adapters, and a
// training checkpoint round trip. Not here: PyTorch parity (lora_parity_test.cpp), fresh-adapter
// identity and merge (loss_head_test.cpp), the CLI stages.
//
// Tolerance of the gradient checks (as transformer_grad_test.cpp): a float model's loss carries
// ~3e-7 of rounding noise; central differences at h = 1e-2 and h/2 combined by Richardson
// extrapolation leave ~4e-5 of error, so each sample must agree within 3e-4 + 3e-2·|g| and the
// sampled vectors within 1% relative L2 error. Base weights and adapters are drawn far from init
// (std 0.3, B non-zero, scaling 2), so every adapter carries a gradient well above that noise.
#include "lmforge/model/lora.h"

#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/rng.h"
#include "lmforge/io/safetensors.h"
#include "lmforge/model/transformer.h"
#include "lmforge/train/checkpoint.h"
#include "lmforge/train/optimizer.h"
#include "lmforge/train/trainer.h"

namespace fs = std::filesystem;
using namespace lmforge;
using nlohmann::json;

namespace {

fs::path temp_dir(const std::string& tag) {
  return fs::temp_directory_path() / ("lmforge-lora-" + tag + "-" + std::to_string(getpid()));
}

ModelConfig tiny(const std::string& arch) {
  ModelConfig c = ModelConfig::preset(arch == "gpt2" ? "tiny" : arch + "-tiny", 31);
  c.n_layer = 2;
  c.n_embd = 16;
  c.n_head = 4;
  c.n_kv_head = arch == "gpt2" ? 4 : 2;  // Llama: GQA, so k/v slices are narrower than q
  c.head_dim = 4;
  c.ffn_hidden = arch == "gpt2" ? 64 : 24;
  c.n_ctx = 8;
  return c;
}

std::vector<std::string> all_targets(const ModelConfig& c) {
  return c.arch != "gpt2" ? std::vector<std::string>{"attn_q",   "attn_k", "attn_v",  "attn_o",
                                                     "ffn_gate", "ffn_up", "ffn_down"}
                          : std::vector<std::string>{"attn_qkv", "attn_o", "ffn_up", "ffn_down"};
}

void randomize(ParamArena& a, uint64_t seed) {
  Rng rng(seed);
  for (const TensorInfo& t : a.entries()) {
    float* w = a.get(t.name);
    const bool gain = t.shape.size() == 1 && t.name.find(".weight") != std::string::npos;
    for (size_t i = 0; i < t.numel; ++i) {
      const double z = rng.normal();
      w[i] = float(gain ? 1.0 + 0.2 * z : (t.shape.size() == 1 ? 0.1 : 0.3) * z);
    }
  }
}

// A model far from init with adapters on every target, A and B both random (B non-zero).
Transformer adapted_model(const ModelConfig& c, int rank = 3) {
  Transformer m(c);
  randomize(m.params(), 11);
  LoraConfig lc;
  lc.rank = rank;
  lc.alpha = 2.0f * float(rank);  // scaling 2: a scaling bug cannot hide behind 1
  lc.targets = all_targets(c);
  m.enable_lora(lc, 7);
  randomize(m.lora()->params(), 13);
  return m;
}

struct Batch {
  std::vector<int32_t> ids, targets;
};

Batch batch(const ModelConfig& c, int N) {
  Rng rng(5);
  Batch b;
  for (int i = 0; i < N; ++i) {
    b.ids.push_back(int32_t(rng.below(c.vocab_size)));
    b.targets.push_back(i % 7 == 3 ? -1 : int32_t(rng.below(c.vocab_size)));
  }
  return b;
}

// Checks `samples` elements of every adapter tensor whose name contains `filter`.
void check_adapter_grads(Transformer& m, const std::string& filter, int samples) {
  omp_set_num_threads(1);  // hundreds of forwards of a toy model
  const int B = 2, T = 8;
  Batch b = batch(m.config(), B * T);
  m.zero_grad();
  m.forward(b.ids.data(), b.targets.data(), B, T);
  m.backward();
  ParamArena& P = m.lora()->params();
  const std::vector<float> grads(m.lora()->grads().data(),
                                 m.lora()->grads().data() + m.lora()->grads().numel());
  auto loss_at = [&](float* w, float value) {
    const float saved = *w;
    *w = value;
    const double l = m.forward(b.ids.data(), b.targets.data(), B, T);
    *w = saved;
    return l;
  };
  Rng rng(17);
  double err2 = 0, ref2 = 0;
  int checked = 0, tensors = 0;
  for (const TensorInfo& t : P.entries()) {
    if (t.name.find(filter) == std::string::npos) continue;
    ++tensors;
    int signal = 0;
    for (int s = 0; s < samples; ++s) {
      const size_t i = size_t(rng.below(t.numel));
      float* w = P.get(t.name) + i;
      const float w0 = *w;
      auto diff = [&](float h) {
        return (loss_at(w, w0 + h) - loss_at(w, w0 - h)) / double((w0 + h) - (w0 - h));
      };
      const double fd = (4.0 * diff(5e-3f) - diff(1e-2f)) / 3.0;
      const double g = grads[t.offset + i];
      EXPECT_NEAR(g, fd, 3e-4 + 3e-2 * std::abs(fd)) << t.name << "[" << i << "]";
      err2 += (g - fd) * (g - fd);
      ref2 += fd * fd;
      ++checked;
      signal += std::abs(fd) > 1e-3;
    }
    EXPECT_GT(signal, 0) << t.name << ": no sampled element carries a gradient";
  }
  std::printf("%s adapters '%s': %d tensors, %d samples, relative L2 error %.2e\n",
              m.config().arch.c_str(), filter.c_str(), tensors, checked, std::sqrt(err2 / ref2));
  EXPECT_GT(tensors, 0);
  EXPECT_LT(std::sqrt(err2 / ref2), 1e-2);
}

class Lora : public ::testing::TestWithParam<std::string> {};

TEST_P(Lora, EveryAdapterTensorMatchesFiniteDifferences) {
  const ModelConfig c = tiny(GetParam());
  Transformer m = adapted_model(c);
  // 2 layers × (7 Llama / 4 GPT-2 targets) × (A, B).
  EXPECT_EQ(m.lora()->params().entries().size(), size_t(2 * 2 * all_targets(c).size()));
  check_adapter_grads(m, "", 5);
}

// The adapters' input gradient (dinp += s·(d·B)·A) reaches the layers below. With layer 1's
// adapted base weights zeroed, layer 1's branches see their input only through the adapters, so
// layer 0's adapter gradients are right only if that input gradient is passed down.
TEST_P(Lora, InputGradientFlowsToLowerLayersAdapters) {
  const ModelConfig c = tiny(GetParam());
  Transformer m = adapted_model(c);
  const std::string p = layer_prefix(c, 1);
  for (const TensorInfo& t : m.params().entries()) {
    if (t.name.rfind(p, 0) != 0 || t.shape.size() != 2) continue;
    std::memset(m.params().get(t.name), 0, t.numel * sizeof(float));
  }
  check_adapter_grads(m, c.arch != "gpt2" ? "layers.0." : "h.0.", 6);
}

TEST_P(Lora, PeftFilesRoundTripBitwise) {
  const ModelConfig c = tiny(GetParam());
  Transformer m = adapted_model(c, 4);
  const fs::path dir = temp_dir("rt-" + GetParam());
  fs::remove_all(dir);
  fs::create_directories(dir);
  m.lora()->save(dir, "some/base");
  ASSERT_TRUE(LoraAdapters::present(dir));

  const json j = json::parse(read_file(dir / "adapter_config.json"));
  EXPECT_EQ(j.at("peft_type"), "LORA");
  EXPECT_EQ(j.at("task_type"), "CAUSAL_LM");
  EXPECT_EQ(j.at("r"), 4);
  EXPECT_EQ(j.at("lora_alpha").get<double>(), 8.0);
  EXPECT_EQ(j.at("lora_dropout").get<double>(), 0.0);
  EXPECT_EQ(j.at("bias"), "none");
  EXPECT_EQ(j.at("base_model_name_or_path"), "some/base");
  // PEFT wraps GPT-2's Conv1D ((in, out) weights) only with fan_in_fan_out = true.
  EXPECT_EQ(j.at("fan_in_fan_out").get<bool>(), c.arch == "gpt2");
  const std::vector<std::string> modules = j.at("target_modules");
  if (c.arch != "gpt2")
    EXPECT_EQ(modules, (std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"}));
  else  // qualified: PEFT matches name suffixes, and plain "c_proj" would catch both
    EXPECT_EQ(modules,
              (std::vector<std::string>{"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}));

  // Keys and shapes PEFT's get_peft_model_state_dict writes: A (r, in), B (out, r).
  SafetensorsFile f = SafetensorsFile::open(dir / "adapter_model.safetensors");
  const int C = c.n_embd, KV = c.n_kv_head * c.head_dim;
  if (c.arch != "gpt2") {
    EXPECT_EQ(f.shape("base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight"),
              (std::vector<int64_t>{4, C}));
    EXPECT_EQ(f.shape("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"),
              (std::vector<int64_t>{KV, 4}));
    EXPECT_EQ(f.shape("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"),
              (std::vector<int64_t>{4, c.ffn_hidden}));
  } else {
    EXPECT_EQ(f.shape("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"),
              (std::vector<int64_t>{c.qkv_dim(), 4}));
    EXPECT_EQ(f.shape("base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight"),
              (std::vector<int64_t>{c.ffn_hidden, 4}));
  }
  EXPECT_EQ(f.names().size(), m.lora()->params().entries().size());

  LoraAdapters back = LoraAdapters::load(dir, c);
  EXPECT_EQ(back.config().rank, 4);
  EXPECT_EQ(back.config().alpha, 8.0f);
  EXPECT_EQ(back.config().targets, all_targets(c));
  ASSERT_EQ(back.params().numel(), m.lora()->params().numel());
  EXPECT_EQ(std::memcmp(back.params().data(), m.lora()->params().data(),
                        back.params().numel() * sizeof(float)),
            0);

  // A model given the loaded adapters computes the same logits, bit for bit.
  Transformer m2(c);
  m2.params().copy_from(m.params());
  m2.load_lora(dir);
  EXPECT_EQ(m2.grads().numel(), 0u);
  Batch b = batch(c, 16);
  const size_t n = size_t(16) * c.vocab_size;
  std::vector<float> want(m.forward_logits(b.ids.data(), 2, 8),
                          m.forward_logits(b.ids.data(), 2, 8) + n);
  const float* got = m2.forward_logits(b.ids.data(), 2, 8);
  EXPECT_EQ(std::memcmp(got, want.data(), n * sizeof(float)), 0);
  fs::remove_all(dir);
}

// Rewrites dir's adapter_model.safetensors through `edit` (name → shape, data) before saving.
void rewrite_adapter(const fs::path& dir,
                     const std::function<void(std::vector<std::string>&,
                                              std::vector<std::vector<int64_t>>&)>& edit) {
  const fs::path st = dir / "adapter_model.safetensors";
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  {
    SafetensorsFile f = SafetensorsFile::open(st);
    for (const auto& n : f.names()) {
      names.push_back(n);
      shapes.push_back(f.shape(n));
    }
  }
  edit(names, shapes);
  std::vector<std::vector<float>> data;
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < names.size(); ++i) {
    size_t numel = 1;
    for (int64_t d : shapes[i]) numel *= size_t(d);
    data.emplace_back(numel, 0.5f);
  }
  for (size_t i = 0; i < names.size(); ++i)
    out.push_back({names[i], DType::kF32, shapes[i], data[i].data()});
  save_safetensors(st, out);
}

template <typename F>
InputError load_error(F&& load) {
  try {
    load();
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "no InputError thrown";
  return InputError("", 0, "", "");
}

TEST_P(Lora, LoadErrorsNameFileAndKey) {
  const ModelConfig c = tiny(GetParam());
  Transformer m = adapted_model(c);
  const fs::path dir = temp_dir("err-" + GetParam());
  auto fresh = [&] {
    fs::remove_all(dir);
    fs::create_directories(dir);
    m.lora()->save(dir);
  };
  const std::string victim = m.lora()->params().entries()[5].name;

  fresh();  // a tensor missing
  rewrite_adapter(dir, [&](auto& names, auto& shapes) {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == victim) {
        names.erase(names.begin() + long(i));
        shapes.erase(shapes.begin() + long(i));
        break;
      }
  });
  InputError e = load_error([&] { LoraAdapters::load(dir, c); });
  EXPECT_EQ(fs::path(e.file()).filename(), "adapter_model.safetensors");
  EXPECT_EQ(e.field(), victim);
  EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();

  fresh();  // a tensor with the wrong shape (rank 4 in a rank-3 adapter)
  rewrite_adapter(dir, [&](auto& names, auto& shapes) {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == victim) shapes[i][shapes[i][0] == 3 ? 0 : 1] = 4;
  });
  e = load_error([&] { LoraAdapters::load(dir, c); });
  EXPECT_EQ(fs::path(e.file()).filename(), "adapter_model.safetensors");
  EXPECT_EQ(e.field(), victim);
  EXPECT_NE(std::string(e.what()).find("shape"), std::string::npos) << e.what();

  fresh();  // a tensor the config does not explain (an adapter for another model)
  rewrite_adapter(dir, [&](auto& names, auto& shapes) {
    names.push_back("base_model.model.lm_head.lora_A.weight");
    shapes.push_back({3, c.n_embd});
  });
  e = load_error([&] { LoraAdapters::load(dir, c); });
  EXPECT_EQ(fs::path(e.file()).filename(), "adapter_model.safetensors");
  EXPECT_EQ(e.field(), "base_model.model.lm_head.lora_A.weight");

  // An unknown target in the config.
  auto edit_config = [&](const std::function<void(json&)>& edit) {
    fresh();
    json j = json::parse(read_file(dir / "adapter_config.json"));
    edit(j);
    write_file_atomic(dir / "adapter_config.json", j.dump());
  };
  edit_config([](json& j) { j["target_modules"] = {"q_proj", "rotary_emb"}; });
  e = load_error([&] { LoraAdapters::load(dir, c); });
  EXPECT_EQ(fs::path(e.file()).filename(), "adapter_config.json");
  EXPECT_EQ(e.field(), "target_modules");
  EXPECT_NE(std::string(e.what()).find(c.arch != "gpt2" ? "rotary_emb" : "q_proj"),
            std::string::npos)
      << e.what();

  edit_config([](json& j) { j["r"] = 0; });
  e = load_error([&] { LoraAdapters::load(dir, c); });
  EXPECT_EQ(e.field(), "r");
  edit_config([](json& j) { j["use_rslora"] = true; });  // scaling alpha/sqrt(r): not ours
  e = load_error([&] { LoraAdapters::load(dir, c); });
  EXPECT_EQ(e.field(), "use_rslora");
  edit_config([](json& j) { j["peft_type"] = "IA3"; });
  e = load_error([&] { LoraAdapters::load(dir, c); });
  EXPECT_EQ(e.field(), "peft_type");
  fs::remove_all(dir);
}

// A PEFT config written by PEFT users loads by PEFT's suffix matching: for GPT-2, "c_proj"
// names both the attention and the MLP output projections.
TEST(LoraPeft, PlainPeftTargetModulesLoad) {
  for (const std::string arch : {"gpt2", "llama"}) {
    const ModelConfig c = tiny(arch);
    Transformer m = adapted_model(c);
    const fs::path dir = temp_dir("peft-" + arch);
    fs::remove_all(dir);
    fs::create_directories(dir);
    m.lora()->save(dir);
    json j = json::parse(read_file(dir / "adapter_config.json"));
    j["target_modules"] = arch == "gpt2" ? json{"c_attn", "c_proj", "c_fc"}
                                         : json{"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                "gate_proj", "up_proj", "down_proj"};
    write_file_atomic(dir / "adapter_config.json", j.dump());
    LoraAdapters a = LoraAdapters::load(dir, c);
    EXPECT_EQ(a.config().targets, all_targets(c)) << arch;
    fs::remove_all(dir);
  }
}

TEST(LoraTargets, ParseAliasesAmbiguityAndUnknownNames) {
  const ModelConfig llama = tiny("llama"), gpt2 = tiny("gpt2");
  EXPECT_EQ(parse_lora_targets(" attn_q, v_proj ,self_attn.k_proj,q_proj,gate_proj,up_proj,"
                               "mlp.down_proj,o_proj",
                               llama),
            (std::vector<std::string>{"attn_q", "attn_v", "attn_k", "ffn_gate", "ffn_up",
                                      "ffn_down", "attn_o"}));
  EXPECT_EQ(parse_lora_targets("c_attn,attn.c_proj,c_fc,mlp.c_proj", gpt2),
            (std::vector<std::string>{"attn_qkv", "attn_o", "ffn_up", "ffn_down"}));
  EXPECT_EQ(parse_lora_targets("attn_qkv,,attn_o", gpt2),
            (std::vector<std::string>{"attn_qkv", "attn_o"}));
  auto usage_message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const UsageError& e) {
      return e.what();
    }
    return "(no UsageError)";
  };
  std::string msg = usage_message([&] { parse_lora_targets("c_proj", gpt2); });
  EXPECT_NE(msg.find("ambiguous"), std::string::npos) << msg;
  EXPECT_NE(msg.find("attn_o"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ffn_down"), std::string::npos) << msg;
  msg = usage_message([&] { parse_lora_targets("attn_q", gpt2); });  // GPT-2 packs q in c_attn
  EXPECT_NE(msg.find("'attn_q'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("attn_qkv"), std::string::npos) << msg;  // the hint lists the choices
  msg = usage_message([&] { parse_lora_targets("attn_q,wq", llama); });
  EXPECT_NE(msg.find("'wq'"), std::string::npos) << msg;
  msg = usage_message([&] { parse_lora_targets(" , ", llama); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  msg = usage_message([&] { LoraAdapters(llama, LoraConfig{0, 1.0f, {"attn_q"}}, 1); });
  EXPECT_NE(msg.find("rank"), std::string::npos) << msg;
}

// AdamW over trainable_params() holds m and v for the adapters only: r·(in + out) per adapter.
TEST_P(Lora, OptimizerStateIsSizedToTheAdapters) {
  const ModelConfig c = tiny(GetParam());
  Transformer m = adapted_model(c, 2);
  const size_t C = c.n_embd, Q = c.attn_dim(), KV = size_t(c.n_kv_head) * c.head_dim,
               FF = c.ffn_hidden, QKV = c.qkv_dim(), r = 2;
  const size_t per_layer = (c.arch != "gpt2")
                               ? r * ((C + Q) + 2 * (C + KV) + (Q + C) + 2 * (C + FF) + (FF + C))
                               : r * ((C + QKV) + (Q + C) + (C + FF) + (FF + C));
  const size_t want = per_layer * size_t(c.n_layer);
  EXPECT_EQ(m.trainable_params().numel(), want);
  EXPECT_EQ(m.trainable_grads().numel(), want);
  EXPECT_EQ(m.grads().numel(), 0u);
  std::vector<ParamSegment> segs = param_segments(m);
  AdamW opt(AdamWConfig{}, segs, m.trainable_params().numel());
  EXPECT_EQ(opt.m().size(), want);
  EXPECT_EQ(opt.v().size(), want);
  EXPECT_LT(want * 4, size_t(m.params().numel()));  // far below the model at this rank
  for (const auto& s : segs) EXPECT_NE(s.name.find(".lora_"), std::string::npos) << s.name;
}

// save_checkpoint writes base + PEFT files + moments; Transformer::load + load_lora +
// load_optimizer_state restore the same model and optimizer, bit for bit.
TEST_P(Lora, CheckpointRoundTrip) {
  omp_set_num_threads(1);
  const ModelConfig c = tiny(GetParam());
  Transformer m = adapted_model(c);
  AdamW opt(AdamWConfig{}, param_segments(m), m.trainable_params().numel());
  Batch b = batch(c, 16);
  for (int step = 0; step < 2; ++step) {
    m.zero_grad();
    m.forward(b.ids.data(), b.targets.data(), 2, 8);
    m.backward();
    opt.update(m.trainable_params().data(), m.trainable_grads().data(), 1e-2f);
  }
  const fs::path dir = temp_dir("ckpt-" + GetParam());
  fs::remove_all(dir);
  TrainerState st;
  st.step = 2;
  save_checkpoint(dir / "step-2", m, {{"", &opt}}, st, {});
  ASSERT_TRUE(LoraAdapters::present(dir / "step-2"));

  Transformer back = Transformer::load(dir / "step-2");
  ASSERT_EQ(back.params().numel(), m.params().numel());
  EXPECT_EQ(
      std::memcmp(back.params().data(), m.params().data(), m.params().numel() * sizeof(float)), 0)
      << "the base weights are saved unmerged";
  back.load_lora(dir / "step-2");
  ASSERT_EQ(back.trainable_params().numel(), m.trainable_params().numel());
  EXPECT_EQ(std::memcmp(back.trainable_params().data(), m.trainable_params().data(),
                        m.trainable_params().numel() * sizeof(float)),
            0);
  AdamW opt2(AdamWConfig{}, param_segments(back), back.trainable_params().numel());
  load_optimizer_state(dir / "step-2", opt2);
  EXPECT_EQ(opt2.step(), 2);
  EXPECT_EQ(opt2.m(), opt.m());
  EXPECT_EQ(opt2.v(), opt.v());

  // The next step from the restored state equals the next step of the original.
  for (Transformer* t : {&m, &back}) {
    t->zero_grad();
    t->forward(b.ids.data(), b.targets.data(), 2, 8);
    t->backward();
  }
  opt.update(m.trainable_params().data(), m.trainable_grads().data(), 1e-2f);
  opt2.update(back.trainable_params().data(), back.trainable_grads().data(), 1e-2f);
  EXPECT_EQ(std::memcmp(back.trainable_params().data(), m.trainable_params().data(),
                        m.trainable_params().numel() * sizeof(float)),
            0);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Families, Lora, ::testing::Values("gpt2", "llama", "qwen3"));

}  // namespace
