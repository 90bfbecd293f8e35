// Ranking (Bradley-Terry, Plackett-Luce) and DPO losses: values and gradients against PyTorch
// autograd (tests/reference/rlhf_losses.py, run here with /usr/bin/python3), central finite
// differences, hand-computed K = 2 values, and the bad-input errors.
#include "lmforge/loss/ranking.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/loss/dpo.h"

namespace lmforge {
namespace {

using nlohmann::json;

json run_reference() {
  const std::string cmd =
      std::string("/usr/bin/python3 ") + LMFORGE_SOURCE_DIR + "/tests/reference/rlhf_losses.py";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return json();
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  if (pclose(f) != 0) return json();
  return json::parse(out, nullptr, false);
}

const json& reference() {
  static const json j = run_reference();
  return j;
}

// Values are O(1) doubles on both sides; the only differences are summation order and
// log1p/exp implementations, so 1e-12 relative (1e-12 absolute near 0) is ample.
void expect_close(double a, double b, const std::string& what) {
  EXPECT_NEAR(a, b, 1e-12 + 1e-10 * std::abs(b)) << what;
}

TEST(RankingLoss, MatchesPyTorch) {
  const json& ref = reference();
  ASSERT_TRUE(ref.is_object() && ref.contains("ranking"))
      << "tests/reference/rlhf_losses.py failed (needs /usr/bin/python3 with python3-torch)";
  ASSERT_GE(ref["ranking"].size(), 12u);
  for (const json& c : ref["ranking"]) {
    std::vector<double> s = c["scores"].get<std::vector<double>>();
    std::vector<double> g(s.size());
    const RankingLoss kind = parse_ranking_loss(c["kind"].get<std::string>());
    const std::string tag = c["kind"].get<std::string>() + " K=" + std::to_string(s.size());
    expect_close(ranking_loss(kind, s, g), c["loss"].get<double>(), tag + " loss");
    std::vector<double> want = c["grad"].get<std::vector<double>>();
    for (size_t k = 0; k < s.size(); ++k)
      expect_close(g[k], want[k], tag + " grad[" + std::to_string(k) + "]");
  }
}

TEST(DpoLoss, MatchesPyTorch) {
  const json& ref = reference();
  ASSERT_TRUE(ref.is_object() && ref.contains("dpo"));
  ASSERT_GE(ref["dpo"].size(), 10u);
  for (const json& c : ref["dpo"]) {
    std::vector<double> pol = c["policy"].get<std::vector<double>>();
    std::vector<double> rf = c["reference"].get<std::vector<double>>();
    std::vector<double> g(pol.size());
    const std::string tag = c["kind"].get<std::string>() + " K=" + std::to_string(pol.size());
    DpoLossResult r = dpo_loss(parse_ranking_loss(c["kind"].get<std::string>()),
                               c["beta"].get<double>(), pol, rf, g);
    expect_close(r.loss, c["loss"].get<double>(), tag + " loss");
    std::vector<double> want = c["grad"].get<std::vector<double>>();
    for (size_t k = 0; k < pol.size(); ++k)
      expect_close(g[k], want[k], tag + " grad[" + std::to_string(k) + "]");
  }
}

// Central differences with h = 1e-5 on O(1) scores: truncation error ~h² and rounding ~1e-11/h,
// so agreement to 1e-7 is expected.
TEST(RankingLoss, FiniteDifferences) {
  const std::vector<double> s0 = {0.3, -1.2, 0.9, 0.05, -0.4, 1.7};
  for (RankingLoss kind : {RankingLoss::kPairwise, RankingLoss::kListwise}) {
    std::vector<double> g(s0.size()), tmp(s0.size());
    ranking_loss(kind, s0, g);
    for (size_t k = 0; k < s0.size(); ++k) {
      const double h = 1e-5;
      std::vector<double> p = s0, m = s0;
      p[k] += h;
      m[k] -= h;
      const double fd = (ranking_loss(kind, p, tmp) - ranking_loss(kind, m, tmp)) / (2 * h);
      EXPECT_NEAR(g[k], fd, 1e-7) << ranking_loss_name(kind) << " k=" << k;
    }
  }
}

TEST(DpoLoss, FiniteDifferences) {
  const std::vector<double> pol0 = {-12.0, -15.5, -9.25, -20.0}, ref = {-13.0, -14.0, -10.0, -18.0};
  for (RankingLoss kind : {RankingLoss::kPairwise, RankingLoss::kListwise}) {
    std::vector<double> g(4), tmp(4);
    dpo_loss(kind, 0.3, pol0, ref, g);
    for (size_t k = 0; k < 4; ++k) {
      const double h = 1e-5;
      std::vector<double> p = pol0, m = pol0;
      p[k] += h;
      m[k] -= h;
      const double fd =
          (dpo_loss(kind, 0.3, p, ref, tmp).loss - dpo_loss(kind, 0.3, m, ref, tmp).loss) / (2 * h);
      EXPECT_NEAR(g[k], fd, 1e-7) << ranking_loss_name(kind) << " k=" << k;
    }
  }
}

TEST(RankingLoss, TwoResponsesByHand) {
  // K = 2: both losses are -log σ(s0 − s1) = log(1 + e^{-(s0−s1)}); d/ds0 = −σ(s1 − s0).
  const std::vector<double> s = {1.0, 3.0};
  for (RankingLoss kind : {RankingLoss::kPairwise, RankingLoss::kListwise}) {
    std::vector<double> g(2);
    EXPECT_NEAR(ranking_loss(kind, s, g), std::log(1 + std::exp(2.0)), 1e-14);
    const double sig = 1 / (1 + std::exp(-2.0));
    EXPECT_NEAR(g[0], -sig, 1e-14);
    EXPECT_NEAR(g[1], sig, 1e-14);
  }
}

TEST(RankingLoss, StableForHugeMargins) {
  std::vector<double> g(3);
  const std::vector<double> right = {1000.0, 0.0, -1000.0}, wrong = {-1000.0, 0.0, 1000.0};
  for (RankingLoss kind : {RankingLoss::kPairwise, RankingLoss::kListwise}) {
    EXPECT_NEAR(ranking_loss(kind, right, g), 0.0, 1e-300);
    for (double x : g) EXPECT_TRUE(std::isfinite(x));
    const double l = ranking_loss(kind, wrong, g);
    EXPECT_TRUE(std::isfinite(l));
    EXPECT_GT(l, 500.0);
  }
}

TEST(RankingLoss, AgreementCountsPairs) {
  PairAgreement a = pair_agreement(std::vector<double>{3.0, 1.0, 2.0});
  EXPECT_EQ(a.pairs, 3);
  EXPECT_NEAR(a.accuracy, 2.0 / 3.0, 1e-15);  // (0,1) (0,2) right, (1,2) wrong
  EXPECT_NEAR(a.margin, ((3 - 1) + (3 - 2) + (1 - 2)) / 3.0, 1e-15);
  EXPECT_NEAR(pair_agreement(std::vector<double>{1.0, 1.0}).accuracy, 0.5, 1e-15);
}

TEST(RankingLoss, BadInput) {
  std::vector<double> one = {1.0}, g(1);
  EXPECT_THROW(bradley_terry_loss(one, g), UsageError);
  EXPECT_THROW(plackett_luce_loss(one, g), UsageError);
  EXPECT_THROW(parse_ranking_loss("triplet"), UsageError);
  std::vector<double> two = {1.0, 2.0}, g2(2), g3(3);
  EXPECT_THROW(dpo_loss(RankingLoss::kPairwise, 0.0, two, two, g2), UsageError);
  EXPECT_THROW(dpo_loss(RankingLoss::kPairwise, 0.1, two, two, g3), UsageError);
}

}  // namespace
}  // namespace lmforge
