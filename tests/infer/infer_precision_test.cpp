// Inference at --precision bf16: the KV-cached engine (decode steps on bf16 copies of the weights
// through linear_rows_forward_bf16, prompts of more than 16 rows through the bf16 GEMM) against
// the training forward at bf16 (Transformer::forward_logits on the whole prefix), teacher-forced
// over 40 steps and a 20-token prompt, for GPT-2 and Llama GQA.
// Both paths round the same activations and weights to bf16 and accumulate in fp32, so they differ
// only where a summation-order difference flips an activation's bf16 rounding (see
// tests/model/parity_test.cpp: a few elements per model). Judged by the relative L2 error of each
// step's logits against a fifth of the distance between the bf16 and fp32 models' logits: the
// engine must compute the bf16 model, not the fp32 one (which the second check rules out).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lmforge/backend/isa.h"
#include "lmforge/infer/engine.h"
#include "support/tiny_model.h"

namespace lmforge {
namespace {

double rel_l2(const float* a, const float* b, int n) {
  double num = 0, den = 0;
  for (int i = 0; i < n; ++i) {
    num += double(a[i] - b[i]) * (a[i] - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

class InferBf16 : public ::testing::TestWithParam<std::string> {};

TEST_P(InferBf16, CachedDecodeComputesTheBf16Model) {
  const std::string arch = GetParam();
  const int V = 97;
  Transformer model = test::make_model(test::tiny_cfg(arch, V), 7);
  std::mt19937 rng(3);
  std::vector<int32_t> seq(60);
  for (auto& t : seq) t = int32_t(rng() % V);
  const int prompt = 20, steps = 40;  // a 20-row prompt takes the GEMM, each step the rows kernel

  backend::PrecisionScope bf16(backend::Precision::bf16);
  InferenceModel infer(model);
  KVCache cache(model.config(), model.config().n_ctx);
  double worst = 0, worst_dist = 1e9;
  for (int s = 0; s <= steps; ++s) {
    const int n = s == 0 ? prompt : prompt + s;
    std::span<const int32_t> fed = s == 0 ? std::span<const int32_t>(seq.data(), prompt)
                                          : std::span<const int32_t>(seq.data() + n - 1, 1);
    ForwardChunk ch{&cache, fed};
    const float* got = infer.forward({&ch, 1});
    std::vector<float> mine(got, got + V);
    const float* want = model.forward_logits(seq.data(), 1, n) + size_t(n - 1) * V;
    std::vector<float> bf(want, want + V);
    std::vector<float> fp(V);
    {
      backend::PrecisionScope fp32(backend::Precision::fp32);
      const float* f = model.forward_logits(seq.data(), 1, n) + size_t(n - 1) * V;
      std::copy(f, f + V, fp.begin());
    }
    const double err = rel_l2(mine.data(), bf.data(), V), dist = rel_l2(bf.data(), fp.data(), V);
    worst = std::max(worst, err);
    worst_dist = std::min(worst_dist, dist);
    ASSERT_LE(err, 0.2 * dist) << arch << " step " << s << ": not the bf16 model's logits";
    ASSERT_GT(rel_l2(mine.data(), fp.data(), V), 0.5 * dist) << arch << " step " << s;
  }
  std::printf(
      "[%s] bf16 cached decode vs bf16 full forward: worst rel L2 %.2e (bf16-to-fp32 "
      "distance at least %.2e)\n",
      arch.c_str(), worst, worst_dist);
}

INSTANTIATE_TEST_SUITE_P(Tiny, InferBf16, ::testing::Values("gpt2", "llama"));

}  // namespace
}  // namespace lmforge
