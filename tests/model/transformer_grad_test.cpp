// End-to-end gradient check of the whole model: backward()'s gradient of the mean loss w.r.t. a
// sample of every parameter tensor against central finite differences of forward(), for a tiny
// GPT-2 and a tiny Llama with grouped-query attention (and one with biases and an untied head).
//
// Tolerance: the model runs in float, so the loss carries ~3e-7 of rounding noise. Differences
// at h = 1e-2 and h/2 are combined by Richardson extrapolation, (4·D(h/2) - D(h))/3, which
// cancels the O(h²) truncation term; the remaining error is ~(4/3)·3e-7/h ≈ 4e-5. Each sample
// must agree within 3e-4 + 3e-2·|g|, and the sampled vectors within 1% relative L2 error.
// Parameters are drawn far from GPT-2 init (std 0.3, norm weights around 1, non-zero biases)
// so every path carries a gradient large compared with that noise.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "lmforge/core/rng.h"
#include "lmforge/model/transformer.h"

using namespace lmforge;

namespace {

ModelConfig tiny(const std::string& arch) {
  ModelConfig c = ModelConfig::preset(arch == "gpt2" ? "tiny" : "llama-tiny", 37);
  c.n_layer = 2;
  c.n_embd = 16;
  c.n_head = 4;
  c.n_kv_head = arch == "gpt2" ? 4 : 2;
  c.head_dim = 4;
  c.ffn_hidden = arch == "gpt2" ? 64 : 24;
  c.n_ctx = 8;  // = T, so every row of GPT-2's position table gets a gradient
  return c;
}

void randomize(Transformer& m, uint64_t seed) {
  Rng rng(seed);
  for (const TensorInfo& t : m.params().entries()) {
    float* w = m.params().get(t.name);
    const bool norm_w = t.shape.size() == 1 && t.name.find("norm") != std::string::npos;
    const bool ln_w = t.shape.size() == 1 && t.name.find("ln_") != std::string::npos &&
                      t.name.find(".weight") != std::string::npos;
    for (size_t i = 0; i < t.numel; ++i) {
      double z = rng.normal();
      if (norm_w || ln_w)
        w[i] = float(1.0 + 0.2 * z);
      else
        w[i] = float((t.shape.size() == 1 ? 0.1 : 0.3) * z);
    }
  }
}

void gradient_check(const ModelConfig& cfg) {
  // Hundreds of forwards of a toy model: threads only add synchronization cost here.
  omp_set_num_threads(1);
  Transformer m(cfg);
  randomize(m, 11);
  const int B = 2, T = 8, N = B * T;
  Rng rng(5);
  std::vector<int32_t> ids(N), targets(N);
  for (int i = 0; i < N; ++i) {
    ids[i] = int32_t(rng.below(cfg.vocab_size));
    targets[i] = int32_t(rng.below(cfg.vocab_size));
  }
  targets[3] = -1;  // masked positions must not contribute
  targets[9] = -1;

  m.zero_grad();
  m.forward(ids.data(), targets.data(), B, T);
  m.backward();
  std::vector<float> grads(m.grads().data(), m.grads().data() + m.grads().numel());

  auto loss_at = [&](float* w, float value) {
    float saved = *w;
    *w = value;
    double l = m.forward(ids.data(), targets.data(), B, T);
    *w = saved;
    return l;
  };
  double err2 = 0, ref2 = 0;
  int checked = 0, nonzero = 0;
  for (const TensorInfo& t : m.params().entries()) {
    int tensor_signal = 0;
    for (int s = 0; s < 6; ++s) {
      size_t i = size_t(rng.below(t.numel));
      float* w = m.params().get(t.name) + i;
      const float w0 = *w;
      auto diff = [&](float h) {
        return (loss_at(w, w0 + h) - loss_at(w, w0 - h)) / double((w0 + h) - (w0 - h));
      };
      const double d1 = diff(1e-2f), d2 = diff(5e-3f);
      const double fd = (4.0 * d2 - d1) / 3.0;
      const double g = grads[t.offset + i];
      EXPECT_NEAR(g, fd, 3e-4 + 3e-2 * std::abs(fd)) << t.name << "[" << i << "]";
      err2 += (g - fd) * (g - fd);
      ref2 += fd * fd;
      ++checked;
      nonzero += std::abs(fd) > 1e-3;
      tensor_signal += std::abs(fd) > 1e-4;
    }
    EXPECT_GT(tensor_signal, 0) << t.name << ": no sampled element has a gradient";
  }
  std::printf("%s: relative L2 error %.2e over %d samples\n", cfg.arch.c_str(),
              std::sqrt(err2 / ref2), checked);
  EXPECT_LT(std::sqrt(err2 / ref2), 1e-2);
  // The check is only meaningful if most samples carry signal.
  EXPECT_GT(nonzero, checked / 2) << nonzero << " of " << checked;
}

}  // namespace

TEST(TransformerGrad, Gpt2MatchesFiniteDifferences) {
  gradient_check(tiny("gpt2"));
}

TEST(TransformerGrad, LlamaGqaMatchesFiniteDifferences) {
  gradient_check(tiny("llama"));
}

TEST(TransformerGrad, LlamaBiasesUntiedVsTied) {
  ModelConfig c = tiny("llama");
  c.attn_bias = c.mlp_bias = true;
  c.tie_embeddings = true;
  gradient_check(c);
}
