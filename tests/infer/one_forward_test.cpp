// Training and inference share one forward (model/block.h): the training forward
// (Transformer::forward_logits) and the KV-cached inference forward (InferenceModel) give the same
// logits to within float rounding, far tighter than the 1e-4 of infer_cache_test, for GPT-2,
// Llama with grouped heads and an untied head, Qwen3 (q/k norms), and with LoRA adapters applied
// unmerged in both.
// Tolerance: 1e-6 of the logits' scale (max |logit|, ~5-10 here). Both sides run fp32 on the same
// weights and differ only in the summation order of the matmul kernels (the training GEMM vs the
// inference packed / few-row kernels) and of the two attention kernels: measured 1.3e-6-2.4e-6
// absolute, i.e. 2e-7-4e-7 of the scale (AVX-512 and AVX2 paths). A real divergence (an adapter
// applied on one side only, a bias off by 1e-3) moves logits by far more (checked below).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "lmforge/backend/isa.h"
#include "lmforge/infer/engine.h"
#include "support/tiny_model.h"

namespace lmforge {
namespace {

constexpr double kRelTol = 1e-6;

double max_abs(const float* a, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, (double)std::fabs(a[i]));
  return m;
}

struct Case {
  const char* tag;
  std::string arch;
  int n_kv;
  bool tied;
  bool lora;
};

class OneForward : public ::testing::TestWithParam<Case> {};

Transformer model_for(const Case& c, int V) {
  Transformer m = test::make_model(test::tiny_cfg(c.arch, V, c.n_kv, c.tied), 11);
  if (c.lora) {
    LoraConfig lc;
    lc.rank = 3;
    lc.targets = c.arch == "gpt2"
                     ? std::vector<std::string>{"attn_qkv", "attn_o", "ffn_up", "ffn_down"}
                     : std::vector<std::string>{"attn_q",   "attn_k", "attn_v",  "attn_o",
                                                "ffn_gate", "ffn_up", "ffn_down"};
    m.enable_lora(lc, 5);
    float* p = m.lora()->params().data();
    for (size_t i = 0; i < m.lora()->params().numel(); ++i)  // B off zero: adapters matter
      p[i] += 0.05f * float(std::sin(0.37 * double(i)));
  }
  return m;
}

TEST_P(OneForward, PrefillAndDecodeMatchTraining) {
  const Case& c = GetParam();
  backend::PrecisionScope fp32(backend::Precision::fp32);
  const int V = Tokenizer::load(test::tokenizer_dir()).vocab_size();
  Transformer model = model_for(c, V);
  InferenceModel infer(model);
  std::mt19937 rng(9);
  const int T = 45;  // > 32: past the first attention block; > 16 rows: the prefill GEMM path
  std::vector<int32_t> ids(T);
  for (auto& x : ids) x = int32_t(rng() % V);
  std::vector<float> full(model.forward_logits(ids.data(), 1, T),
                          model.forward_logits(ids.data(), 1, T) + size_t(T) * V);
  const double scale = max_abs(full.data(), full.size());
  const double kTol = kRelTol * scale;

  // A prefill of the first 30 tokens (every row's logits), then one token per decode step.
  KVCache cache(model.config(), 64);
  const int P = 30;
  ForwardChunk pre{&cache, std::span<const int32_t>(ids).first(P)};
  const float* got = infer.forward({&pre, 1}, /*all_logits=*/true);
  double worst = test::max_abs_diff(got, full.data(), size_t(P) * V);
  EXPECT_LE(worst, kTol) << c.tag << ": prefill";
  for (int t = P; t < T; ++t) {
    ForwardChunk one{&cache, std::span<const int32_t>(ids).subspan(t, 1)};
    const float* step = infer.forward({&one, 1});
    const double d = test::max_abs_diff(step, full.data() + size_t(t) * V, V);
    worst = std::max(worst, d);
    EXPECT_LE(d, kTol) << c.tag << ": decode at " << t;
  }
  std::printf(
      "[%s] max |logit diff| training vs inference forward: %.2e (%.1e of max |logit| %.2f)\n",
      c.tag, worst, worst / scale, scale);
}

// The tolerance is meaningful: dropping the adapters on the inference side (what a second,
// adapter-unaware forward would do) or perturbing one bias moves the logits by far more.
TEST(OneForward, ToleranceSeesARealDivergence) {
  backend::PrecisionScope fp32(backend::Precision::fp32);
  const int V = Tokenizer::load(test::tokenizer_dir()).vocab_size();
  Transformer with = model_for({"gpt2", "gpt2", 4, true, true}, V);
  Transformer base = test::make_model(test::tiny_cfg("gpt2", V, 4, true), 11);
  std::vector<int32_t> ids = {3, 1, 4, 1, 5, 9, 2, 6};
  const int T = (int)ids.size();
  std::vector<float> a(with.forward_logits(ids.data(), 1, T),
                       with.forward_logits(ids.data(), 1, T) + size_t(T) * V);
  const float* b = base.forward_logits(ids.data(), 1, T);
  const double tol = kRelTol * max_abs(a.data(), a.size());
  const double no_adapter = test::max_abs_diff(a.data(), b, size_t(T) * V);
  std::vector<float> c(b, b + size_t(T) * V);
  base.params().get("transformer.h.1.mlp.c_proj.bias")[7] += 1e-3f;
  const double bias =
      test::max_abs_diff(c.data(), base.forward_logits(ids.data(), 1, T), size_t(T) * V);
  std::printf("tolerance %.2e; adapter dropped: %.2e; one bias + 1e-3: %.2e\n", tol, no_adapter,
              bias);
  EXPECT_GT(no_adapter, 100 * tol);
  EXPECT_GT(bias, 10 * tol);
}

INSTANTIATE_TEST_SUITE_P(Tiny, OneForward,
                         ::testing::Values(Case{"gpt2", "gpt2", 4, true, false},
                                           Case{"gpt2_lora", "gpt2", 4, true, true},
                                           Case{"llama_gqa_untied", "llama", 2, false, false},
                                           Case{"llama_lora", "llama", 2, true, true},
                                           Case{"qwen3_gqa", "qwen3", 2, true, false},
                                           Case{"qwen3_lora", "qwen3", 2, true, true}),
                         [](const auto& info) { return std::string(info.param.tag); });

}  // namespace
}  // namespace lmforge
