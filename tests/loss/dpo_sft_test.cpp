// RPO's SFT term on the preferred answer (loss/dpo.h dpo_sft_term): its value is the best answer's
// mean per-token NLL times α, its gradient matches a central difference and adds to DPO's, α = 0
// changes nothing, and bad input is refused.
#include <gtest/gtest.h>

#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/loss/dpo.h"

using namespace lmforge;

TEST(DpoSftTerm, ValueAndGradient) {
  std::vector<double> g = {0.25, -0.5, 0.0};
  const double v = dpo_sft_term(2.0, -6.0, 4, g);  // 2 · 6/4
  EXPECT_DOUBLE_EQ(v, 3.0);
  EXPECT_DOUBLE_EQ(g[0], 0.25 - 0.5);  // adds −α/n to the best answer's gradient only
  EXPECT_DOUBLE_EQ(g[1], -0.5);
  EXPECT_DOUBLE_EQ(g[2], 0.0);
  const double h = 1e-4;
  std::vector<double> scratch(3, 0.0);
  const double up = dpo_sft_term(2.0, -6.0 + h, 4, scratch);
  const double dn = dpo_sft_term(2.0, -6.0 - h, 4, scratch);
  EXPECT_NEAR((up - dn) / (2 * h), -0.5, 1e-9);
}

TEST(DpoSftTerm, ZeroCoefIsPlainDpo) {
  std::vector<double> g = {0.1, 0.2};
  EXPECT_EQ(dpo_sft_term(0.0, -3.0, 2, g), 0.0);
  EXPECT_EQ(g, (std::vector<double>{0.1, 0.2}));
}

TEST(DpoSftTerm, RefusesBadInput) {
  std::vector<double> g = {0.0, 0.0};
  EXPECT_THROW(dpo_sft_term(-1.0, -3.0, 2, g), UsageError);
  EXPECT_THROW(dpo_sft_term(1.0, -3.0, 0, g), UsageError);
}
