// Ranking losses over the scalar scores of K responses to one prompt, best first (the reward
// model's head, DPO's implicit rewards). Each returns the loss of one ranking and writes its
// gradient d loss / d score (assigned, not accumulated); a batch averages over its rankings.
//   pairwise  Bradley-Terry over all K·(K-1)/2 ordered pairs (InstructGPT's K-choose-2 batching):
//             mean over pairs i<j of -log σ(s_i − s_j).
//   listwise  Plackett-Luce: the negative log-likelihood of the whole order, averaged over its
//             K−1 choices: (1/(K−1)) Σ_{i<K−1} [logsumexp(s_i..s_{K−1}) − s_i]. For K = 2 both
//             losses are the same number.
// Everything is double precision and numerically stable (softplus / logsumexp with the maximum
// taken out). Not here: where the scores come from (train/reward_model.h, train/dpo.h).
#pragma once
#include <cstdint>
#include <span>
#include <string>

namespace lmforge {

enum class RankingLoss { kPairwise, kListwise };

// "pairwise" | "listwise"; UsageError otherwise.
RankingLoss parse_ranking_loss(const std::string& name);
const char* ranking_loss_name(RankingLoss kind);

// K = scores.size() >= 2 (UsageError otherwise); grad has K entries.
double bradley_terry_loss(std::span<const double> scores, std::span<double> grad);
double plackett_luce_loss(std::span<const double> scores, std::span<double> grad);
double ranking_loss(RankingLoss kind, std::span<const double> scores, std::span<double> grad);

// How well scores agree with the order (best first), over all pairs i<j: the fraction with
// s_i > s_j (a tie counts half) and the mean margin s_i − s_j.
struct PairAgreement {
  double accuracy = 0;
  double margin = 0;
  int64_t pairs = 0;
};
PairAgreement pair_agreement(std::span<const double> scores);

// -log σ(x) = softplus(−x), stable for any x.
double neg_log_sigmoid(double x);

}  // namespace lmforge
