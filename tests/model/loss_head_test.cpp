// The loss-head API of Transformer (forward_logits / forward_hidden + backward_from) and LoRA's
// freezing: a loss head that writes cross-entropy's dlogits reproduces backward() exactly; a head
// on the hidden states gets finite-difference-correct gradients; a model with adapters has no base
// gradient memory, a fresh adapter leaves the logits unchanged, and merging gives the logits of
// base + adapter.
// Tolerances: float model; finite differences at h = 1e-2 with Richardson extrapolation as in
// transformer_grad_test.cpp (error ~4e-5), checked within 3e-4 + 3e-2·|g|.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "lmforge/backend/kernels.h"
#include "lmforge/core/rng.h"
#include "lmforge/model/transformer.h"

using namespace lmforge;

namespace {

ModelConfig tiny(const std::string& arch) {
  ModelConfig c = ModelConfig::preset(arch == "gpt2" ? "tiny" : "llama-tiny", 29);
  c.n_layer = 2;
  c.n_embd = 16;
  c.n_head = 4;
  c.n_kv_head = arch == "gpt2" ? 4 : 2;
  c.head_dim = 4;
  c.ffn_hidden = arch == "gpt2" ? 64 : 24;
  c.n_ctx = 8;
  return c;
}

struct Batch {
  std::vector<int32_t> ids, targets;
};

Batch batch(int B, int T, int V, uint64_t seed) {
  Rng rng(seed);
  Batch b;
  for (int i = 0; i < B * T; ++i) {
    b.ids.push_back(int32_t(rng.below(V)));
    b.targets.push_back(i % 5 == 2 ? -1 : int32_t(rng.below(V)));
  }
  return b;
}

class LossHead : public ::testing::TestWithParam<std::string> {};

TEST_P(LossHead, CrossEntropyThroughBackwardFromEqualsBackward) {
  omp_set_num_threads(1);
  ModelConfig c = tiny(GetParam());
  Transformer m(c);
  m.init_weights(3);
  const int B = 2, T = 7, N = B * T, V = c.vocab_size;
  Batch b = batch(B, T, V, 9);
  m.zero_grad();
  m.forward(b.ids.data(), b.targets.data(), B, T);
  m.backward(0.5f);
  std::vector<float> want(m.grads().data(), m.grads().data() + m.grads().numel());

  m.zero_grad();
  m.forward_logits(b.ids.data(), B, T);
  int64_t n = 0;
  for (int32_t t : b.targets) n += t >= 0;
  float* logits = m.logits_buffer();
  cpu::cross_entropy_backward(logits, logits, b.targets.data(), 0.5f / float(n), N, V);
  m.backward_from(logits, nullptr);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(m.grads().data()[i], want[i], 1e-6f + 1e-5f * std::fabs(want[i])) << i;
  EXPECT_THROW(m.backward_from(logits, nullptr), std::exception);  // once per forward
}

// loss = Σ w ⊙ hidden with fixed random w: backward_from(nullptr, w) must match finite
// differences of forward_hidden for a sample of every tensor.
TEST_P(LossHead, HiddenHeadGradientMatchesFiniteDifferences) {
  omp_set_num_threads(1);
  ModelConfig c = tiny(GetParam());
  Transformer m(c);
  // Far from init so every path carries a gradient (as transformer_grad_test.cpp): matrices
  // ~N(0, 0.3²), norm gains ~1 ± 0.2, biases ~N(0, 0.1²).
  Rng prng(4);
  for (const TensorInfo& t : m.params().entries()) {
    float* p = m.params().get(t.name);
    const bool gain = t.shape.size() == 1 && t.name.find(".weight") != std::string::npos;
    for (size_t i = 0; i < t.numel; ++i)
      p[i] = float(gain ? 1.0 + 0.2 * prng.normal()
                        : (t.shape.size() == 1 ? 0.1 : 0.3) * prng.normal());
  }
  const int B = 2, T = 6, C = c.n_embd;
  Batch b = batch(B, T, c.vocab_size, 10);
  // Weights on the last position of each row only, as a reward head reads it (fewer float terms
  // in the sum keeps the finite differences' rounding noise low).
  Rng rng(12);
  std::vector<float> w(size_t(B) * T * C, 0.0f);
  for (int r = 0; r < B; ++r)
    for (int ch = 0; ch < C; ++ch) w[(size_t(r) * T + T - 1) * C + ch] = float(rng.normal());
  auto loss = [&]() {
    const float* h = m.forward_hidden(b.ids.data(), B, T);
    double s = 0;
    for (size_t i = 0; i < w.size(); ++i) s += double(w[i]) * h[i];
    return s;
  };
  m.zero_grad();
  loss();
  m.backward_from(nullptr, w.data());
  int checked = 0;
  for (const TensorInfo& t : m.params().entries()) {
    for (size_t k = 0; k < 3 && k < t.numel; ++k) {
      size_t idx = (k * 7919 + 13) % t.numel;
      float* p = m.params().get(t.name) + idx;
      const float saved = *p;
      auto at = [&](double d) {
        *p = float(saved + d);
        double l = loss();
        *p = saved;
        return l;
      };
      const double h = 1e-2;
      const double d1 = (at(h) - at(-h)) / (2 * h), d2 = (at(h / 2) - at(-h / 2)) / h;
      const double fd = (4 * d2 - d1) / 3;
      const double g = m.grads().get(t.name)[idx];
      EXPECT_NEAR(g, fd, 3e-4 + 3e-2 * std::fabs(fd)) << t.name << "[" << idx << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

TEST_P(LossHead, LoraFreezesBaseAndMergeMatchesAdapter) {
  omp_set_num_threads(1);
  ModelConfig c = tiny(GetParam());
  Transformer m(c);
  m.init_weights(5);
  const int B = 2, T = 8, V = c.vocab_size;
  Batch b = batch(B, T, V, 11);
  std::vector<float> base(m.forward_logits(b.ids.data(), B, T),
                          m.forward_logits(b.ids.data(), B, T) + size_t(B) * T * V);
  LoraConfig lc;
  lc.rank = 3;
  lc.targets = c.arch != "gpt2"
                   ? std::vector<std::string>{"attn_q",   "attn_k", "attn_v",  "attn_o",
                                              "ffn_gate", "ffn_up", "ffn_down"}
                   : std::vector<std::string>{"attn_qkv", "attn_o", "ffn_up", "ffn_down"};
  m.enable_lora(lc, 7);
  EXPECT_EQ(m.grads().numel(), 0u);  // no gradient memory for the frozen base
  EXPECT_EQ(&m.trainable_params(), &m.lora()->params());
  const float* fresh = m.forward_logits(b.ids.data(), B, T);
  for (size_t i = 0; i < base.size(); ++i) ASSERT_EQ(fresh[i], base[i]);  // B = 0: identity

  // One step of training moves only the adapters.
  std::vector<float> params_before(m.params().data(), m.params().data() + m.params().numel());
  m.zero_grad();
  m.forward(b.ids.data(), b.targets.data(), B, T);
  m.backward();
  double gsum = 0;
  for (size_t i = 0; i < m.trainable_grads().numel(); ++i)
    gsum += std::fabs(m.trainable_grads().data()[i]);
  EXPECT_GT(gsum, 0.0);
  for (size_t i = 0; i < m.trainable_params().numel(); ++i)
    m.trainable_params().data()[i] -= 0.5f * m.trainable_grads().data()[i] +
                                      0.05f * float(std::sin(double(i)));  // B moves off zero
  for (size_t i = 0; i < params_before.size(); ++i)
    ASSERT_EQ(m.params().data()[i], params_before[i]);

  std::vector<float> adapted(m.forward_logits(b.ids.data(), B, T),
                             m.forward_logits(b.ids.data(), B, T) + base.size());
  double diff = 0;
  for (size_t i = 0; i < base.size(); ++i) diff += std::fabs(adapted[i] - base[i]);
  EXPECT_GT(diff / base.size(), 1e-4);  // the adapter changes the model
  m.merge_lora();
  EXPECT_FALSE(m.has_lora());
  EXPECT_EQ(m.grads().numel(), m.params().numel());
  const float* merged = m.forward_logits(b.ids.data(), B, T);
  for (size_t i = 0; i < base.size(); ++i)
    ASSERT_NEAR(merged[i], adapted[i], 2e-5f + 2e-5f * std::fabs(adapted[i])) << i;
}

// Two examples packed in one row (positions restarting at 0) give the logits and the gradients
// of the same examples run as separate rows: attention does not cross the boundary and positions
// (learned table or RoPE) restart.
TEST_P(LossHead, PackedRowEqualsSeparateRows) {
  omp_set_num_threads(1);
  ModelConfig c = tiny(GetParam());
  Transformer m(c);
  m.init_weights(6);
  const int V = c.vocab_size;
  Batch b = batch(1, 8, V, 13);
  for (int32_t& t : b.targets) t = t < 0 ? 1 : t;  // all 8 targets count
  const std::vector<int32_t> pos = {0, 1, 2, 0, 1, 2, 3, 4};
  std::vector<float> packed(m.forward_logits(b.ids.data(), 1, 8, pos.data()),
                            m.forward_logits(b.ids.data(), 1, 8, pos.data()) + 8 * V);
  m.zero_grad();
  m.forward(b.ids.data(), b.targets.data(), 1, 8, pos.data());
  m.backward();
  std::vector<float> gp(m.grads().data(), m.grads().data() + m.grads().numel());

  m.zero_grad();
  const float* la = m.forward_logits(b.ids.data(), 1, 3);
  for (int i = 0; i < 3 * V; ++i) ASSERT_NEAR(la[i], packed[i], 1e-5f) << i;
  const float* lb = m.forward_logits(b.ids.data() + 3, 1, 5);
  for (int i = 0; i < 5 * V; ++i) ASSERT_NEAR(lb[i], packed[3 * V + i], 1e-5f) << i;
  m.forward(b.ids.data(), b.targets.data(), 1, 3);
  m.backward(3.0f / 8.0f);
  m.forward(b.ids.data() + 3, b.targets.data() + 3, 1, 5);
  m.backward(5.0f / 8.0f);
  for (size_t i = 0; i < gp.size(); ++i)
    ASSERT_NEAR(m.grads().data()[i], gp[i], 1e-6f + 1e-4f * std::fabs(gp[i])) << i;
}

INSTANTIATE_TEST_SUITE_P(Families, LossHead, ::testing::Values("gpt2", "llama"));

}  // namespace
