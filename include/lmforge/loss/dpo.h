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
#include <cstddef>
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

// The SFT (negative log-likelihood) term on the preferred answer that RPO adds to DPO (Pang et
// al. 2024, "Iterative Reasoning Preference Optimization"; TRL's rpo_alpha): returns
// α·(−log π(y_best|x) / |y_best|), the mean per-token NLL of the best answer, and adds its
// gradient −α/|y_best| to grad[0]. It keeps the likelihood of the preferred answers from falling
// while DPO widens the gap (DPO's known failure on pairs the policy did not sample). α = 0: 0 and
// grad untouched. UsageError on α < 0 or an empty best answer.
double dpo_sft_term(double sft_coef, double best_logp, size_t best_tokens, std::span<double> grad);

}  // namespace lmforge
