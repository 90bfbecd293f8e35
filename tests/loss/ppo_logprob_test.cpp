// The token log-prob / entropy head of PPO: values against a hand-computed softmax, the in-place
// backward against central finite differences (of a weighted sum of log-probs and entropies, and
// of the clipped policy loss composed with it), and masked rows giving zero gradient.
// Tolerances: float logits, sums in double; finite differences at h = 1e-3 within 1e-3.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "lmforge/core/rng.h"
#include "lmforge/loss/ppo.h"

using namespace lmforge;

namespace {
// One thread: the finite differences call the head thousands of times on tiny rows.
const int kThreads = (omp_set_num_threads(1), 1);
}  // namespace

TEST(PpoTokenLogprobs, MatchHandComputedSoftmax) {
  // logits (0, ln 2, ln 5): p = (1/8, 2/8, 5/8)
  const std::vector<float> z = {0.0f, std::log(2.0f), std::log(5.0f)};
  const std::vector<int32_t> t = {1};
  float lp = 0, h = 0;
  token_logprobs(z.data(), t.data(), 1, 3, &lp, &h);
  EXPECT_NEAR(lp, std::log(0.25), 1e-6);
  const double want_h =
      -(0.125 * std::log(0.125) + 0.25 * std::log(0.25) + 0.625 * std::log(0.625));
  EXPECT_NEAR(h, want_h, 1e-6);
}

TEST(PpoTokenLogprobs, BackwardMatchesFiniteDifferences) {
  const int N = 4, V = 7;
  Rng rng(11);
  std::vector<float> z(N * V), a(N), b(N), mask = {1, 1, 0, 1};
  std::vector<int32_t> t(N);
  for (auto& x : z) x = float(rng.normal());
  for (int i = 0; i < N; ++i) {
    t[i] = int32_t(rng.below(V));
    a[i] = float(rng.normal());
    b[i] = float(rng.normal());
  }
  // f = Σ_i mask_i (a_i logp_i + b_i H_i)
  auto f = [&] {
    std::vector<float> lp(N), h(N);
    token_logprobs(z.data(), t.data(), N, V, lp.data(), h.data());
    double s = 0;
    for (int i = 0; i < N; ++i) s += mask[i] * (double(a[i]) * lp[i] + double(b[i]) * h[i]);
    return s;
  };
  std::vector<float> g = z;
  token_logprobs_backward(g.data(), t.data(), a.data(), b.data(), mask.data(), N, V);
  for (int k = 0; k < N * V; ++k) {
    const float z0 = z[k];
    z[k] = z0 + 1e-3f;
    const double up = f();
    z[k] = z0 - 1e-3f;
    const double dn = f();
    z[k] = z0;
    EXPECT_NEAR(g[k], (up - dn) / 2e-3, 1e-3) << "logit " << k;
    if (k / V == 2) {
      EXPECT_EQ(g[k], 0.0f);  // masked row
    }
  }
}

TEST(PpoTokenLogprobs, PolicyLossThroughLogitsMatchesFiniteDifferences) {
  const int N = 5, V = 6;
  Rng rng(3);
  std::vector<float> z(N * V), old(N), adv(N);
  std::vector<int32_t> t(N);
  for (auto& x : z) x = float(rng.normal());
  for (int i = 0; i < N; ++i) {
    t[i] = int32_t(rng.below(V));
    adv[i] = float(rng.normal());
  }
  std::vector<float> lp(N);
  token_logprobs(z.data(), t.data(), N, V, lp.data(), nullptr);
  for (int i = 0; i < N; ++i) old[i] = lp[i] + (i % 2 ? 0.02f : -0.4f);  // some clipped
  auto f = [&] {
    std::vector<float> l(N), d(N);
    token_logprobs(z.data(), t.data(), N, V, l.data(), nullptr);
    return ppo_policy_loss(l.data(), old.data(), adv.data(), nullptr, N, 0.2, 1.0f, d.data()).loss;
  };
  std::vector<float> dlp(N), g = z;
  ppo_policy_loss(lp.data(), old.data(), adv.data(), nullptr, N, 0.2, 1.0f, dlp.data());
  token_logprobs_backward(g.data(), t.data(), dlp.data(), nullptr, nullptr, N, V);
  for (int k = 0; k < N * V; ++k) {
    const float z0 = z[k];
    z[k] = z0 + 1e-3f;
    const double up = f();
    z[k] = z0 - 1e-3f;
    const double dn = f();
    z[k] = z0;
    EXPECT_NEAR(g[k], (up - dn) / 2e-3, 1e-3) << "logit " << k;
  }
}

// The rollouts sample from softmax(z/τ): the head must score that distribution, at any τ.
TEST(PpoTokenLogprobs, TemperatureScalesTheLogits) {
  // logits (0, 2 ln 2, 2 ln 5) at τ = 2 are (0, ln 2, ln 5) at τ = 1: p = (1/8, 2/8, 5/8).
  const std::vector<float> z = {0.0f, 2 * std::log(2.0f), 2 * std::log(5.0f)};
  const std::vector<int32_t> t = {2};
  float lp = 0, h = 0;
  token_logprobs(z.data(), t.data(), 1, 3, &lp, &h, 2.0);
  EXPECT_NEAR(lp, std::log(0.625), 1e-6);
  EXPECT_NEAR(h, -(0.125 * std::log(0.125) + 0.25 * std::log(0.25) + 0.625 * std::log(0.625)),
              1e-6);
  float lp1 = 0;
  token_logprobs(z.data(), t.data(), 1, 3, &lp1, nullptr);  // τ = 1 is another distribution
  EXPECT_GT(std::abs(lp1 - lp), 0.1);
}

TEST(PpoTokenLogprobs, BackwardAtTemperatureMatchesFiniteDifferences) {
  const int N = 3, V = 6;
  const double tau = 0.7;
  Rng rng(5);
  std::vector<float> z(N * V), a(N), b(N);
  std::vector<int32_t> t(N);
  for (auto& x : z) x = float(rng.normal());
  for (int i = 0; i < N; ++i) {
    t[i] = int32_t(rng.below(V));
    a[i] = float(rng.normal());
    b[i] = float(rng.normal());
  }
  auto f = [&] {
    std::vector<float> lp(N), h(N);
    token_logprobs(z.data(), t.data(), N, V, lp.data(), h.data(), tau);
    double s = 0;
    for (int i = 0; i < N; ++i) s += double(a[i]) * lp[i] + double(b[i]) * h[i];
    return s;
  };
  std::vector<float> g = z;
  token_logprobs_backward(g.data(), t.data(), a.data(), b.data(), nullptr, N, V, tau);
  for (int k = 0; k < N * V; ++k) {
    const float z0 = z[k];
    z[k] = z0 + 1e-3f;
    const double up = f();
    z[k] = z0 - 1e-3f;
    const double dn = f();
    z[k] = z0;
    EXPECT_NEAR(g[k], (up - dn) / 2e-3, 2e-3) << k;
  }
}
