// Bradley-Terry (pairwise) and Plackett-Luce (listwise) ranking losses with their gradients;
// see ranking.h for the definitions and conventions.
#include "lmforge/loss/ranking.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "lmforge/core/error.h"

namespace lmforge {

RankingLoss parse_ranking_loss(const std::string& name) {
  if (name == "pairwise") return RankingLoss::kPairwise;
  if (name == "listwise") return RankingLoss::kListwise;
  throw UsageError("ranking loss must be pairwise or listwise, got '" + name + "'");
}

const char* ranking_loss_name(RankingLoss kind) {
  return kind == RankingLoss::kPairwise ? "pairwise" : "listwise";
}

double neg_log_sigmoid(double x) {
  // softplus(−x) = max(−x, 0) + log1p(exp(−|x|)): no overflow for large |x|.
  return std::max(-x, 0.0) + std::log1p(std::exp(-std::abs(x)));
}

namespace {

double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

void check_sizes(const char* op, std::span<const double> s, std::span<double> g) {
  if (s.size() < 2)
    throw UsageError(std::string("[") + op + "] a ranking needs at least 2 scores, got " +
                     std::to_string(s.size()));
  check(g.size() == s.size(), op, "grad must have one entry per score");
}

}  // namespace

double bradley_terry_loss(std::span<const double> s, std::span<double> grad) {
  check_sizes("bradley_terry_loss", s, grad);
  const size_t K = s.size();
  const double pairs = double(K) * double(K - 1) / 2;
  std::fill(grad.begin(), grad.end(), 0.0);
  double loss = 0;
  for (size_t i = 0; i < K; ++i)
    for (size_t j = i + 1; j < K; ++j) {
      const double d = s[i] - s[j];
      loss += neg_log_sigmoid(d);
      const double g = sigmoid(-d) / pairs;  // d softplus(−d)/dd = −σ(−d)
      grad[i] -= g;
      grad[j] += g;
    }
  return loss / pairs;
}

double plackett_luce_loss(std::span<const double> s, std::span<double> grad) {
  check_sizes("plackett_luce_loss", s, grad);
  const size_t K = s.size();
  const double stages = double(K - 1);
  std::fill(grad.begin(), grad.end(), 0.0);
  double loss = 0;
  std::vector<double> p(K);
  for (size_t i = 0; i + 1 < K; ++i) {
    // Choice i picks s_i among the responses not yet chosen (i..K−1).
    const double mx = *std::max_element(s.begin() + i, s.end());
    double z = 0;
    for (size_t k = i; k < K; ++k) z += (p[k] = std::exp(s[k] - mx));
    loss += mx + std::log(z) - s[i];
    for (size_t k = i; k < K; ++k) grad[k] += p[k] / z / stages;
    grad[i] -= 1.0 / stages;
  }
  return loss / stages;
}

double ranking_loss(RankingLoss kind, std::span<const double> scores, std::span<double> grad) {
  return kind == RankingLoss::kPairwise ? bradley_terry_loss(scores, grad)
                                        : plackett_luce_loss(scores, grad);
}

PairAgreement pair_agreement(std::span<const double> s) {
  PairAgreement a;
  for (size_t i = 0; i < s.size(); ++i)
    for (size_t j = i + 1; j < s.size(); ++j) {
      a.accuracy += s[i] > s[j] ? 1.0 : (s[i] == s[j] ? 0.5 : 0.0);
      a.margin += s[i] - s[j];
      ++a.pairs;
    }
  if (a.pairs) {
    a.accuracy /= double(a.pairs);
    a.margin /= double(a.pairs);
  }
  return a;
}

}  // namespace lmforge
