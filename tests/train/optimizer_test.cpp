// AdamW over named segments against a hand computation in double; clipping by global norm.
#include "lmforge/train/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace lmforge;

namespace {
// One AdamW step for one element, written out from the paper (decoupled decay).
struct Ref {
  double p, m = 0, v = 0;
  void step(double g, double lr, double b1, double b2, double eps, double wd, int t) {
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    double mh = m / (1 - std::pow(b1, t)), vh = v / (1 - std::pow(b2, t));
    p -= lr * (mh / (std::sqrt(vh) + eps) + wd * p);
  }
};
}  // namespace

TEST(AdamW, MatchesHandComputationWithPerSegmentDecay) {
  // Two segments: a decayed "weight" (4 values) and an undecayed "bias" (3 values).
  std::vector<ParamSegment> segs = {{"w", {2, 2}, 0, 4, true}, {"b", {3}, 4, 3, false}};
  AdamWConfig cfg{.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
  AdamW opt(cfg, segs, 7);
  std::vector<float> p = {0.5f, -0.25f, 1.0f, 2.0f, 0.1f, -0.3f, 0.7f};
  std::vector<Ref> ref;
  for (float x : p) ref.push_back({x});
  for (int t = 1; t <= 5; ++t) {
    std::vector<float> g(7);
    for (int i = 0; i < 7; ++i) g[i] = std::sin(0.7f * i + t) * 0.5f;
    float lr = 0.01f * t;
    opt.update(p.data(), g.data(), lr);
    for (int i = 0; i < 7; ++i) ref[i].step(g[i], lr, 0.9, 0.95, 1e-8, i < 4 ? 0.1 : 0.0, t);
  }
  EXPECT_EQ(opt.step(), 5);
  for (int i = 0; i < 7; ++i) {
    EXPECT_NEAR(p[i], ref[i].p, 2e-6) << "element " << i;
    EXPECT_NEAR(opt.m()[i], ref[i].m, 1e-6);
    EXPECT_NEAR(opt.v()[i], ref[i].v, 1e-6);
  }
}

TEST(AdamW, UndecayedSegmentWithZeroGradientStaysPut) {
  AdamW opt({.weight_decay = 0.5f}, {{"w", {2}, 0, 2, true}, {"b", {2}, 2, 2, false}}, 4);
  std::vector<float> p = {1, 1, 1, 1}, g = {0, 0, 0, 0};
  opt.update(p.data(), g.data(), 0.1f);
  EXPECT_FLOAT_EQ(p[0], 1.0f - 0.1f * 0.5f);  // decay alone moves the decayed weight
  EXPECT_FLOAT_EQ(p[2], 1.0f);                // and nothing moves the bias
}

TEST(Clip, ScalesToMaxNormAndReportsPreClipNorm) {
  std::vector<float> g = {3, 4, 0, 0};  // norm 5
  double n = clip_grad_norm(g.data(), g.size(), 1.0);
  EXPECT_DOUBLE_EQ(n, 5.0);
  EXPECT_NEAR(g[0], 0.6f, 1e-6);
  EXPECT_NEAR(g[1], 0.8f, 1e-6);
  std::vector<float> small = {0.3f, 0.4f};
  EXPECT_NEAR(clip_grad_norm(small.data(), 2, 1.0), 0.5, 1e-7);
  EXPECT_FLOAT_EQ(small[0], 0.3f);  // below the threshold: untouched
  std::vector<float> off = {30, 40};
  clip_grad_norm(off.data(), 2, 0.0);  // 0 disables clipping
  EXPECT_FLOAT_EQ(off[0], 30.0f);
  std::vector<float> bad = {NAN, 1};
  EXPECT_TRUE(std::isnan(clip_grad_norm(bad.data(), 2, 1.0)));
}
