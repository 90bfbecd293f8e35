// `lmforge dpo` as a library call: Direct Preference Optimization of a policy (the --init model,
// all weights or LoRA adapters) on rankings JSONL, against the frozen --init model as reference.
// - Rankings of K answers are used as all K·(K−1)/2 ordered pairs (pairwise, default; for K = 2
//   the DPO paper's loss) or listwise (Plackett-Luce DPO); see loss/dpo.h. --batch-size counts
//   rankings per micro-batch; all K responses of a ranking share the micro-batch.
// - log π(y|x) sums the response tokens only (prompt rendering as reward_data.h: ChatML when the
//   tokenizer has it, the end token included in the response).
// - Reference log-probabilities are computed once, before the first step, by the --init model and
//   cached in RUN/ref_logprobs.json together with a fingerprint of the token rows and of the
//   reference's weights (a hash of their content, not the --init path); a resume reads them back
//   (and recomputes them deterministically from --init if the file is missing or its fingerprint
//   does not match the data or the weights).
// - Evaluation on the held-out rankings (--val-fraction) writes val_loss (the DPO loss),
//   reward_accuracy (pairs whose implicit rewards β·(log π − log π_ref) are ordered right),
//   margin (their mean gap) and kl: the mean per-token KL(π‖π_ref) over the held-out response
//   tokens (exact over the vocabulary at each position, on the data's prefixes, not on samples),
//   chosen_logp and chosen_logp_ref: the mean per-token log-likelihood of the best answers under
//   the policy and the reference. The reference model stays in memory for this. Training steps
//   log train_accuracy, train_margin, reward_best, reward_worst and chosen_logp.
// - The loss adds --sft-coef times the best answer's per-token NLL (RPO), default 1.
//   RUN/summary.json carries reward_accuracy, margin, kl, chosen_logp and chosen_logp_ref.
// - Held-out selection (early_stop.h): the weights with the lowest held-out objective
//   (val_objective = val_loss + sft_coef·(−chosen_logp)) are the ones written, the --init
//   model included, so a run that only made the held-out preferences worse changes nothing;
//   summary.json says which step ("best_step") and whether training stopped early.
// Not here: option parsing (src/cli/dpo.cpp), the loss itself (loss/dpo.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmforge/model/transformer.h"
#include "lmforge/train/reward_data.h"
#include "lmforge/train/stage.h"
#include "lmforge/train/trainer.h"

namespace lmforge {

struct DpoOptions {
  StageOptions stage;
  std::filesystem::path data;
  double beta = 0.1;
  // Weight of the SFT term on each ranking's best answer (RPO; loss/dpo.h dpo_sft_term). 1.0 as
  // in the RPO paper: it guards the preferred answers' likelihood, which plain DPO (0) lets fall.
  double sft_coef = 1.0;
  std::string loss = "pairwise";  // pairwise | listwise
  double val_fraction = 0.1;
  // Without --max-steps, at least this many steps (epochs grow to reach it; reward_train.h).
  // 0 by default: on bench/alignment_check.sh, 108 steps (12 epochs) over 40 rankings of the
  // model's own samples took held-out correctness 100% -> 45% (the policy collapsed onto answers
  // that were "best" for many prompts), while the 9 steps of one epoch kept 98%.
  int64_t min_steps = 0;
  // Model selection on the held-out rankings (early_stop.h): the held-out objective (val_loss
  // plus sft_coef times the preferred answers' per-token NLL, the quantity training lowers) is
  // measured about ten times (unless --eval-every says otherwise, counting step 0), the
  // best weights are kept, and after `early_stop_patience` evaluations without improvement
  // training stops (0: never early). keep_last: write the last step's weights instead.
  int early_stop_patience = 3;
  bool keep_last = false;
};

struct DpoResult {
  TrainResult train;
  std::filesystem::path final_dir;  // empty when interrupted
  nlohmann::json summary;
};

// Defaults of `lmforge dpo`: lr 1e-5 (DPO moves a trained policy; small steps keep the KL to the
// reference low), 1 epoch (DpoOptions::min_steps can raise it), 4 rankings per micro-batch, no
// weight decay, beta 0.1, sft-coef 1.
StageOptions dpo_default_stage_options();

DpoResult run_dpo(const DpoOptions& opts, const TrainHooks& test_hooks = {});

// Sum of the response-token log-probabilities of every row of `rankings` under `model`, in row
// order (ranking by ranking, best first), computed in micro-batches of `per_batch` rankings.
std::vector<std::vector<double>> response_logprobs(Transformer& model,
                                                   const std::vector<EncodedRanking>& rankings,
                                                   int per_batch);

}  // namespace lmforge
