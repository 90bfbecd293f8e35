// The demo's speed probes: how fast this machine trains the demo's model sizes (a few forward and
// backward steps of random tokens at the demo's pretraining shape and the process's matmul
// precision), which `lmforge demo` compares with the reference machine's rate to size the model
// and steps; and the older 1024³ cpu::sgemm rate. Throughputs, deliberately not the arithmetic
// peak of backend/peak.h (MFU's denominator): the demo needs what training will actually get.
// Not here: the choice of size and steps (builtin_pipeline.cpp demo_sizing).
#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "lmforge/backend/kernels.h"
#include "lmforge/demo/pipeline.h"
#include "lmforge/model/config.h"
#include "lmforge/model/transformer.h"

namespace lmforge {

double measure_sgemm_gflops() {
  const int n = 1024;
  std::vector<float> a(size_t(n) * n, 0.5f), b(a.size(), 0.25f), c(a.size(), 0.0f);
  double best = 1e30;
  for (int rep = 0; rep < 4; ++rep) {  // the first call warms caches and thread pools
    auto t0 = std::chrono::steady_clock::now();
    cpu::sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) best = std::min(best, s);
  }
  return 2.0 * n * n * n / best / 1e9;
}

double measure_training_tokens_per_s(const std::string& preset, int width, int steps) {
  ModelConfig c = ModelConfig::preset(preset, kDemoVocab);
  if (width > 0) {
    c.n_embd = width;
    c.head_dim = width / c.n_head;
    c.ffn_hidden = 4 * width;
  }
  c.n_ctx = std::max(c.n_ctx, kDemoSeqLen);
  c.validate();
  Transformer m(c);
  m.init_weights(1);
  const int B = kDemoBatch, T = kDemoSeqLen;
  std::mt19937 rng(7);
  std::vector<int32_t> ids(size_t(B) * T), targets(ids.size());
  for (auto& x : ids) x = int32_t(rng() % kDemoVocab);
  for (auto& x : targets) x = int32_t(rng() % kDemoVocab);
  std::vector<double> times;
  for (int s = 0; s < 2 + std::max(1, steps); ++s) {  // two warm-up steps
    const auto t0 = std::chrono::steady_clock::now();
    m.zero_grad();
    m.forward(ids.data(), targets.data(), B, T);
    m.backward();
    if (s >= 2)
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return double(B) * T / times[times.size() / 2];  // the median step: robust to a busy moment
}

}  // namespace lmforge
