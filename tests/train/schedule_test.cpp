// Learning-rate schedule values at the corners (warmup start/end, midpoint, last step).
#include "lmforge/train/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "lmforge/core/error.h"

using namespace lmforge;

TEST(Schedule, WarmupThenCosineToMin) {
  LrSchedule s{.lr = 1e-3,
               .min_lr = 1e-4,
               .warmup_steps = 10,
               .total_steps = 110,
               .decay = LrDecay::kCosine};
  EXPECT_DOUBLE_EQ(s.at(1), 1e-4);  // 1/10 of the peak on the first update
  EXPECT_DOUBLE_EQ(s.at(5), 5e-4);
  EXPECT_DOUBLE_EQ(s.at(10), 1e-3);                 // peak at the end of warmup
  EXPECT_NEAR(s.at(60), 1e-4 + 0.5 * 9e-4, 1e-15);  // half way through decay
  double p = 25.0 / 100.0;
  EXPECT_NEAR(s.at(35), 1e-4 + 9e-4 * 0.5 * (1 + std::cos(std::numbers::pi * p)), 1e-15);
  EXPECT_DOUBLE_EQ(s.at(110), 1e-4);  // exactly min_lr at the last step
  EXPECT_DOUBLE_EQ(s.at(500), 1e-4);  // and stays there
}

TEST(Schedule, LinearAndConstant) {
  LrSchedule lin{
      .lr = 1.0, .min_lr = 0.0, .warmup_steps = 0, .total_steps = 4, .decay = LrDecay::kLinear};
  EXPECT_DOUBLE_EQ(lin.at(1), 0.75);
  EXPECT_DOUBLE_EQ(lin.at(2), 0.5);
  EXPECT_DOUBLE_EQ(lin.at(4), 0.0);
  LrSchedule c{
      .lr = 2.0, .min_lr = 0.0, .warmup_steps = 2, .total_steps = 4, .decay = LrDecay::kConstant};
  EXPECT_DOUBLE_EQ(c.at(1), 1.0);
  EXPECT_DOUBLE_EQ(c.at(3), 2.0);
  EXPECT_DOUBLE_EQ(c.at(100), 2.0);
}

TEST(Schedule, ParseNames) {
  EXPECT_EQ(parse_lr_decay("cosine"), LrDecay::kCosine);
  EXPECT_EQ(parse_lr_decay("linear"), LrDecay::kLinear);
  EXPECT_EQ(to_string(LrDecay::kConstant), "constant");
  EXPECT_THROW(parse_lr_decay("cosin"), UsageError);
}
