// Internals shared by the PPO files: the stored rollout batch and the helpers that generate
// answers with the KV-cache engine and score token log-probs / values with the training forward.
// Not a public API (include/lmforge/train/ppo.h is).
#pragma once
#include <cstdint>
#include <vector>

#include "lmforge/dist/comm.h"
#include "lmforge/model/transformer.h"
#include "lmforge/train/ppo.h"

namespace lmforge {

struct PpoObjective::Rollout {
  struct Row {
    std::vector<int32_t> prompt, response;
    // Per response token t: log-prob under the rollout policy, V(s_t) of the rollout value head,
    // whitened advantage, return (the critic's regression target).
    std::vector<float> old_logp, old_v, adv, ret;
  };
  int64_t index = -1;
  std::vector<Row> rows;
  // Rollout statistics for metrics.jsonl: mean raw score, mean Σ_t (logp - logp_ref) per
  // response, mean response length.
  double reward_mean = 0, kl = 0, response_len = 0;
  double unfinished = 0;  // share of answers cut at the token cap (no end token)
};

namespace ppo_detail {

// Samples one answer per prompt from `model` with the KV-cache engine, all rows in one batched
// forward per token; row i draws from its own Rng(seeds[i]). A response ends after a stop id
// (kept as its last token), after max_new tokens or at the context's end.
std::vector<std::vector<int32_t>> generate(const Transformer& model,
                                           const std::vector<const std::vector<int32_t>*>& prompts,
                                           const std::vector<uint64_t>& seeds, int max_new,
                                           double temperature,
                                           const std::vector<int32_t>& stop_ids);

// Training-forward log-probs of each response token under softmax(logits/temperature) (and, when
// vhead is non-null, the values V(s_t) = h_t·w + b from the hidden state that predicts it),
// batch_size rows at a time.
void score_tokens(Transformer& model, const std::vector<const std::vector<int32_t>*>& prompts,
                  const std::vector<const std::vector<int32_t>*>& responses, int batch_size,
                  double temperature, const float* vhead, std::vector<std::vector<float>>* logp,
                  std::vector<std::vector<float>>* values);

// Ridge regression of y on [x, 1] toward `prior` (C+1): minimises
// mean_i (y_i − w·[x_i,1])² + ρ·|w − prior|² with ρ = ridge·tr(XᵀX/n)/(C+1), in double (Cholesky).
// x: n rows of C. Returns prior unchanged when n == 0 or the system is not positive definite.
// comm: data parallel, the normal equations are summed over every rank's rows (same head on all).
std::vector<float> ridge_fit(const std::vector<float>& x, const std::vector<float>& y, int C,
                             double ridge, const std::vector<float>& prior, Comm* comm = nullptr);

// Padded (B,T) input rows prompt+response[:-1] (T = the longest), with the flat index of the
// position that predicts each response token (row-major over rows and tokens).
struct PaddedRows {
  int T = 0;
  std::vector<int32_t> ids, targets;  // targets: the response token at its predicting position
  std::vector<float> mask;            // 1 at predicting positions
  std::vector<size_t> at;             // per response token: its flat position b·T + t
};
PaddedRows pad_rows(const std::vector<const std::vector<int32_t>*>& prompts,
                    const std::vector<const std::vector<int32_t>*>& responses);

}  // namespace ppo_detail
}  // namespace lmforge
