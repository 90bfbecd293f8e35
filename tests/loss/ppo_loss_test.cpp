// PPO's loss pieces against values computed by hand (the arithmetic is written out next to each
// expectation) and against central finite differences.
// Tolerances: hand values in float within 1e-5; finite differences at h = 1e-3 on double-summed
// float losses, within 2e-3 absolute (away from the clip kinks, which the inputs avoid).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "lmforge/core/rng.h"
#include "lmforge/loss/ppo.h"

using namespace lmforge;

TEST(PpoGae, MatchesHandComputedRecursion) {
  const std::vector<float> r = {1, 0, 2}, v = {0.5f, 1.0f, 1.5f};
  std::vector<float> adv(3), ret(3);
  ppo_gae(r.data(), v.data(), 3, 0.9, 0.8, adv.data(), ret.data());
  // t=2: δ = 2 + 0 - 1.5 = 0.5                         A = 0.5
  // t=1: δ = 0 + 0.9·1.5 - 1 = 0.35                     A = 0.35 + 0.72·0.5 = 0.71
  // t=0: δ = 1 + 0.9·1 - 0.5 = 1.4                      A = 1.4 + 0.72·0.71 = 1.9112
  EXPECT_NEAR(adv[2], 0.5, 1e-6);
  EXPECT_NEAR(adv[1], 0.71, 1e-6);
  EXPECT_NEAR(adv[0], 1.9112, 1e-6);
  EXPECT_NEAR(ret[0], 2.4112, 1e-6);
  EXPECT_NEAR(ret[1], 1.71, 1e-6);
  EXPECT_NEAR(ret[2], 2.0, 1e-6);
}

TEST(PpoGae, LambdaOneGammaOneIsRewardToGoMinusValue) {
  const std::vector<float> r = {0.1f, -0.2f, 0.3f, 1.0f}, v = {0.4f, 0.3f, -0.1f, 0.2f};
  std::vector<float> adv(4), ret(4);
  ppo_gae(r.data(), v.data(), 4, 1.0, 1.0, adv.data(), ret.data());
  EXPECT_NEAR(ret[0], 1.2, 1e-6);  // 0.1 - 0.2 + 0.3 + 1.0
  EXPECT_NEAR(ret[2], 1.3, 1e-6);
  EXPECT_NEAR(adv[1], 1.1 - 0.3, 1e-6);
}

TEST(PpoWhiten, UnbiasedStdOverMaskedEntries) {
  std::vector<float> x = {1, 2, 3, 4};
  ppo_whiten(x.data(), nullptr, 4, true);
  // mean 2.5, unbiased var (2.25+0.25+0.25+2.25)/3 = 5/3, std 1.2909944
  EXPECT_NEAR(x[0], -1.161895, 1e-5);
  EXPECT_NEAR(x[2], 0.387298, 1e-5);
  std::vector<float> y = {1, 2, 100, 3}, m = {1, 1, 0, 1};
  ppo_whiten(y.data(), m.data(), 4, true);  // mean 2, var 1
  EXPECT_NEAR(y[0], -1, 1e-5);
  EXPECT_NEAR(y[1], 0, 1e-5);
  EXPECT_EQ(y[2], 100);  // masked out: untouched
  EXPECT_NEAR(y[3], 1, 1e-5);
  std::vector<float> z = {1, 3, 5};
  ppo_whiten(z.data(), nullptr, 3, false);  // mean 3, std 2, mean kept: (x-3)/2 + 3
  EXPECT_NEAR(z[0], 2, 1e-5);
  EXPECT_NEAR(z[2], 4, 1e-5);
  std::vector<float> one = {7};
  ppo_whiten(one.data(), nullptr, 1, true);
  EXPECT_EQ(one[0], 7);
}

TEST(PpoPolicyLoss, MatchesHandComputedClippedSurrogate) {
  // ratios 1.5, 0.5, 1.1, 1.5 with advantages +1, +1, -2, -1 and clip 0.2:
  //   1: max(-1.5, -1.2) = -1.2 (clipped, no gradient)
  //   2: max(-0.5, -0.8) = -0.5 (d/dlogp = -A·r = -0.5)
  //   3: max(2.2, 2.2)   =  2.2 (inside the range, d = 2.2)
  //   4: max(1.5, 1.2)   =  1.5 (d = 1.5)
  //   5: masked out
  const std::vector<float> logp = {std::log(1.5f), std::log(0.5f), std::log(1.1f) - 1.0f,
                                   std::log(1.5f) + 0.3f, 5.0f};
  const std::vector<float> old = {0, 0, -1.0f, 0.3f, 0};
  const std::vector<float> adv = {1, 1, -2, -1, 3}, mask = {1, 1, 1, 1, 0};
  std::vector<float> d(5, 9.0f);
  PpoPolicyLoss r =
      ppo_policy_loss(logp.data(), old.data(), adv.data(), mask.data(), 5, 0.2, 2.0f, d.data());
  EXPECT_NEAR(r.loss, (-1.2 - 0.5 + 2.2 + 1.5) / 4, 1e-5);
  EXPECT_NEAR(r.clip_frac, 0.25, 1e-9);
  // k3: (r - 1) - ln r = 0.0945349, 0.1931472, 0.0046898, 0.0945349
  EXPECT_NEAR(r.approx_kl, (0.0945349 + 0.1931472 + 0.0046898 + 0.0945349) / 4, 1e-5);
  EXPECT_EQ(d[0], 0.0f);
  EXPECT_NEAR(d[1], 2.0 * -0.5 / 4, 1e-5);
  EXPECT_NEAR(d[2], 2.0 * 2.2 / 4, 1e-5);
  EXPECT_NEAR(d[3], 2.0 * 1.5 / 4, 1e-5);
  EXPECT_EQ(d[4], 0.0f);
}

TEST(PpoValueLoss, MatchesHandComputedClippedLoss) {
  // clip 0.2:
  //   v 1.0 old 0.5 R 1:  e1 0;    vc 0.7 e2 -0.3 -> clipped wins, 0.09, no gradient
  //   v 0.6 old 0.5 R 2:  e1 -1.4; vc 0.6 (inside) -> 1.96, d -1.4
  //   v 0.0 old 0.5 R -1: e1 1.0;  vc 0.3 e2 1.3 -> clipped wins, 1.69, no gradient
  //   v 0.5 old 1.0 R 2:  e1 -1.5; vc 0.8 e2 -1.2 -> 2.25, d -1.5
  const std::vector<float> v = {1.0f, 0.6f, 0.0f, 0.5f}, old = {0.5f, 0.5f, 0.5f, 1.0f},
                           ret = {1, 2, -1, 2};
  std::vector<float> d(4);
  PpoValueLoss r =
      ppo_value_loss(v.data(), old.data(), ret.data(), nullptr, 4, 0.2, 1.0f, d.data());
  EXPECT_NEAR(r.loss, 0.5 * (0.09 + 1.96 + 1.69 + 2.25) / 4, 1e-5);
  EXPECT_NEAR(r.clip_frac, 0.5, 1e-9);
  EXPECT_EQ(d[0], 0.0f);
  EXPECT_NEAR(d[1], -1.4 / 4, 1e-5);
  EXPECT_EQ(d[2], 0.0f);
  EXPECT_NEAR(d[3], -1.5 / 4, 1e-5);
  // Without clipping: plain 0.5·mean squared error.
  PpoValueLoss u = ppo_value_loss(v.data(), old.data(), ret.data(), nullptr, 4, 0, 1.0f, d.data());
  EXPECT_NEAR(u.loss, 0.5 * (0 + 1.96 + 1 + 2.25) / 4, 1e-5);
  EXPECT_NEAR(d[2], 1.0 / 4, 1e-6);
}

namespace {

// Central difference of f at x[i].
double fd(const std::function<double()>& f, float& x, double h) {
  const float x0 = x;
  x = float(x0 + h);
  const double up = f();
  x = float(x0 - h);
  const double dn = f();
  x = x0;
  return (up - dn) / (2 * h);
}

}  // namespace

TEST(PpoLossGrad, PolicyAndValueMatchFiniteDifferences) {
  Rng rng(5);
  const size_t n = 9;
  std::vector<float> logp(n), old(n), adv(n), mask(n), v(n), vold(n), ret(n);
  for (size_t i = 0; i < n; ++i) {
    old[i] = float(-1 - rng.uniform());
    // ratios e^{±0.05} (inside the clip range) or e^{±0.5} (outside), never at a kink
    logp[i] = old[i] + float((i % 2 ? 0.05 : 0.5) * (i % 3 ? 1 : -1));
    adv[i] = float(rng.normal());
    mask[i] = i == 4 ? 0.0f : 1.0f;
    vold[i] = float(rng.normal());
    v[i] = vold[i] + float((i % 2 ? 0.05 : 0.6) * (i % 3 ? 1 : -1));
    ret[i] = float(rng.normal());
  }
  std::vector<float> dl(n), dv(n), tmp(n);
  ppo_policy_loss(logp.data(), old.data(), adv.data(), mask.data(), n, 0.2, 1.0f, dl.data());
  ppo_value_loss(v.data(), vold.data(), ret.data(), mask.data(), n, 0.2, 1.0f, dv.data());
  for (size_t i = 0; i < n; ++i) {
    auto fp = [&] {
      return ppo_policy_loss(logp.data(), old.data(), adv.data(), mask.data(), n, 0.2, 1.0f,
                             tmp.data())
          .loss;
    };
    auto fv = [&] {
      return ppo_value_loss(v.data(), vold.data(), ret.data(), mask.data(), n, 0.2, 1.0f,
                            tmp.data())
          .loss;
    };
    EXPECT_NEAR(dl[i], fd(fp, logp[i], 1e-3), 2e-3) << "policy, token " << i;
    EXPECT_NEAR(dv[i], fd(fv, v[i], 1e-3), 2e-3) << "value, token " << i;
  }
}
