// Direct Preference Optimization (Rafailov et al. 2023) over a ranking of K responses, best
// first. The implicit reward of response k is r_k = β·(log π(y_k|x) − log π_ref(y_k|x)), each
// log-probability summed over the response tokens only. The loss is a ranking loss on r:
//   pairwise  all ordered pairs of the ranking: mean over i<j of -log σ(r_i − r_j) (for K = 2 this
//             is the DPO paper's loss exactly)
//   listwise  Plackett-Luce DPO (the paper's appendix A.3): the Plackett-Luce negative
//             log-likelihood of the order under r, averaged over its K−1 choices.
// The gradient is taken w.r.t. the policy log-probabilities (the reference is a constant).
// Not here: how the log-probabilities are computed (train/dpo.h).
#pragma once
#include <span>

#include "lmforge/loss/ranking.h"

namespace lmforge {

struct DpoLossResult {
  double loss = 0;
  double accuracy = 0;  // fraction of pairs i<j with r_i > r_j (ties count half)
  double margin = 0;    // mean r_i − r_j over pairs i<j
  double reward_best = 0, reward_worst = 0;  // r of the first and last response
};

// policy_logps, ref_logps: K >= 2 each; grad (K): d loss / d policy_logps (assigned).
// UsageError on mismatched sizes, K < 2 or beta <= 0.
DpoLossResult dpo_loss(RankingLoss kind, double beta, std::span<const double> policy_logps,
                       std::span<const double> ref_logps, std::span<double> grad);

}  // namespace lmforge
