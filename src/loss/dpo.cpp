// DPO over rankings: the implicit rewards β·(log π − log π_ref) fed to a ranking loss (dpo.h).
#include "lmforge/loss/dpo.h"

#include <string>
#include <vector>

#include "lmforge/core/error.h"

namespace lmforge {

DpoLossResult dpo_loss(RankingLoss kind, double beta, std::span<const double> policy,
                       std::span<const double> ref, std::span<double> grad) {
  if (policy.size() != ref.size() || grad.size() != policy.size())
    throw UsageError("[dpo_loss] policy, reference and grad sizes differ (" +
                     std::to_string(policy.size()) + ", " + std::to_string(ref.size()) + ", " +
                     std::to_string(grad.size()) + ")");
  if (!(beta > 0)) throw UsageError("[dpo_loss] beta must be > 0");
  const size_t K = policy.size();
  std::vector<double> r(K);
  for (size_t k = 0; k < K; ++k) r[k] = beta * (policy[k] - ref[k]);
  DpoLossResult out;
  out.loss = ranking_loss(kind, r, grad);
  for (double& g : grad) g *= beta;  // dr_k / dπ_k = β
  PairAgreement a = pair_agreement(r);
  out.accuracy = a.accuracy;
  out.margin = a.margin;
  out.reward_best = r.front();
  out.reward_worst = r.back();
  return out;
}

}  // namespace lmforge

namespace lmforge {

double dpo_sft_term(double sft_coef, double best_logp, size_t best_tokens, std::span<double> grad) {
  if (sft_coef < 0) throw UsageError("[dpo_sft_term] sft_coef must be >= 0");
  if (sft_coef == 0) return 0.0;
  if (best_tokens == 0 || grad.empty())
    throw UsageError("[dpo_sft_term] the preferred answer has no tokens");
  const double n = double(best_tokens);
  grad[0] += -sft_coef / n;  // d(−α·logp/n)/d logp
  return -sft_coef * best_logp / n;
}

}  // namespace lmforge
