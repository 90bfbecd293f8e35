// The PPO critic's closed-form refit (ppo_detail::ridge_fit): it recovers a linear value function
// from a few hundred samples, shrinks toward its previous weights as the ridge grows, and leaves
// the prior alone when there is nothing to fit. (The critic used to start at zero and train at the
// policy's learning rate, so it never moved; see docs/RLHF.md.)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lmforge/core/rng.h"
#include "train/ppo_internal.h"

using namespace lmforge;

TEST(PpoCritic, RidgeFitRecoversALinearValue) {
  const int C = 6, n = 300;
  Rng rng(4);
  const std::vector<double> w = {0.5, -1.0, 0.0, 2.0, 0.25, -0.5};
  std::vector<float> x(size_t(n) * C), y(n);
  for (int i = 0; i < n; ++i) {
    double v = 0.7;  // bias
    for (int c = 0; c < C; ++c) {
      x[size_t(i) * C + c] = float(rng.normal());
      v += w[size_t(c)] * x[size_t(i) * C + c];
    }
    y[size_t(i)] = float(v);
  }
  const std::vector<float> prior(C + 1, 0.0f);
  std::vector<float> fit = ppo_detail::ridge_fit(x, y, C, 1e-6, prior);
  ASSERT_EQ(fit.size(), size_t(C + 1));
  for (int c = 0; c < C; ++c) EXPECT_NEAR(fit[size_t(c)], w[size_t(c)], 1e-3) << c;
  EXPECT_NEAR(fit[C], 0.7, 1e-3);
  // A strong ridge pulls toward the prior: smaller weights than the unregularised fit.
  std::vector<float> shrunk = ppo_detail::ridge_fit(x, y, C, 10.0, prior);
  EXPECT_LT(std::abs(shrunk[3]), std::abs(fit[3]) * 0.5);
  std::vector<float> toward(C + 1, 5.0f);
  std::vector<float> pulled = ppo_detail::ridge_fit(x, y, C, 10.0, toward);
  EXPECT_GT(pulled[2], 1.0);  // w[2] = 0, pulled toward 5
  // No data: the prior comes back unchanged.
  EXPECT_EQ(ppo_detail::ridge_fit({}, {}, C, 0.1, toward), toward);
}
