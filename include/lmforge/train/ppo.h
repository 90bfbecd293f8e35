// PPO for RLHF (`lmforge ppo`): the policy samples answers to prompts with the KV-cache engine in
// the same process (InferenceModel borrows the policy's weights, so there is no weight sync; with
// LoRA a merged copy is made per rollout), a reward function scores them, and the policy is
// trained with the clipped PPO loss (loss/ppo.h) on the stored rollouts for several epochs.
// Per-token reward: -β·(logp_policy - logp_ref) against a frozen copy of the --init model, plus
// the score on the last token, centred on the batch mean (and whitened), minus a penalty when the
// answer was cut at the token cap; log-probs are those of the sampling distribution (logits/τ).
// The critic is a linear value head on the policy's final hidden states (detached: no gradient
// into the trunk), refit in closed form (ridge regression toward its previous weights) on each
// finished rollout's returns, so it learns from the first rollout on instead of creeping at the
// policy's learning rate; GAE gives advantages (whitened) and returns.
// One trainer step is one minibatch update; a rollout batch of R prompts serves
// ppo_epochs·R/(B·grad_accum) steps. The objective's position counts micro-batches, the rollout
// index is position / micro-batches per rollout, and the rollout buffer, value head and KL
// coefficient go into each checkpoint (save_extra), so a resume continues exactly.
// Not here: the reward model itself (train/reward_model.h), option parsing (cli/ppo.cpp).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lmforge/data/tokenizer.h"
#include "lmforge/train/stage.h"
#include "lmforge/train/trainer.h"

namespace lmforge {

// One answer to score: the prompt's token ids (as the policy saw them) and the response's ids
// (including the end-of-turn token when the policy produced one).
struct PpoSample {
  std::vector<int32_t> prompt, response;
};
// Scores a batch of samples, one scalar each (higher is better).
using PpoRewardFn = std::function<std::vector<double>(const std::vector<PpoSample>&)>;

struct PpoConfig {
  int rollout_batch = 16;    // R: prompts per rollout batch
  int ppo_epochs = 4;        // passes over each rollout batch
  int max_new_tokens = 32;   // response length cap
  double temperature = 1.0;  // sampling temperature of the rollouts (1: the policy itself)
  double gamma = 1.0, lam = 0.95;
  double clip = 0.2;          // policy ratio clip ε
  double value_ridge = 0.1;   // critic fit: ridge strength, relative to the features' scale
  double entropy_coef = 0.0;  // weight of the entropy bonus
  double kl_coef = 0.1;       // β of the per-token KL penalty (initial value when adaptive)
  // Subtracted from the (centred, whitened) score of an answer cut at --max-new-tokens without an
  // end token (TRL's missing_eos_penalty): an unfinished answer is not a finished one.
  double missing_eos_penalty = 1.0;
  bool adaptive_kl = false;        // Ziegler et al.'s proportional controller toward kl_target
  double kl_target = 6.0;          // nats per response, for the adaptive controller
  double kl_horizon = 10000;       // samples over which the controller acts
  double target_kl = 0.0;          // > 0: a step whose approx KL(old||new) > 1.5·target_kl ends
                                   // the PPO epochs on its rollout batch (0: off)
  double max_kl = 0.0;             // > 0: rollout KL to the reference above this warns or stops
  std::string kl_action = "warn";  // warn | stop
  // The scores of a rollout batch are always centred (their batch mean subtracted: a ranking-
  // trained reward model's offset is arbitrary, and an uncentred score favours short answers when
  // positive, long ones when negative); whiten_rewards also divides them by their batch std.
  bool whiten_rewards = true;
  uint64_t seed = 1337;
};

// Rows of prompt ids the policy answers: rendered with the chat template (user turn plus the
// assistant header) or as raw text.
struct PpoPrompts {
  std::vector<std::vector<int32_t>> train, eval;
  std::vector<int32_t> stop_ids;  // end-of-turn / end-of-text ids that end a response
};

class PpoObjective : public Objective {
 public:
  // policy trains (or its LoRA adapters); reference is frozen (only its forward runs). Both
  // outlive the objective.
  PpoObjective(Transformer& policy, Transformer& reference, PpoRewardFn reward, PpoPrompts prompts,
               PpoConfig cfg, int batch_size, int grad_accum);
  ~PpoObjective() override;

  Transformer& model() override { return policy_; }
  std::vector<TrainableGroup> trainable() override;
  void begin_step(int64_t step) override;
  double micro_step(float scale, std::map<std::string, double>& extra) override;
  int64_t tokens_per_micro() const override;
  double flops_per_micro() const override;
  int64_t position() const override { return pos_; }
  void set_position(int64_t p) override { pos_ = p; }
  void save_extra(const std::filesystem::path& dir) const override;
  void load_extra(const std::filesystem::path& dir) override;

  // Micro-batches one rollout batch serves (ppo_epochs · R / B).
  int64_t micro_per_rollout() const;
  // Held-out evaluation: one sampled answer per eval prompt (fixed seeds, so every call sees the
  // same random draws); mean score and mean per-response KL to the reference.
  struct Eval {
    double mean_reward = 0, kl = 0, response_len = 0;
  };
  Eval evaluate();
  double kl_coef() const { return kl_coef_; }
  // Answers to the eval prompts as the current policy samples them (tests, samples).
  std::vector<PpoSample> sample_eval(int n);

  struct Rollout;  // the stored batch (ppo_objective.cpp)

 private:
  void collect(int64_t index);
  // Refits the critic (the value head) on a finished rollout's returns under the current policy.
  void fit_value_head(const Rollout& ro);

  Transformer& policy_;
  Transformer& ref_;
  PpoRewardFn reward_;
  PpoPrompts prompts_;
  PpoConfig cfg_;
  int B_, accum_;
  int64_t pos_ = 0;
  double step_kl_sum_ = 0;  // approx KL of the current step's micro-batches (target_kl)
  double kl_coef_;
  std::vector<float> vhead_;  // value head: weight (C), bias (1); fit by ridge regression
  std::unique_ptr<Rollout> ro_;
};

// The whole stage: validates the prompts (each must leave room for an answer in the context),
// splits off held-out prompts, measures the start reward, trains, writes final/ and summary.json
// ({"mean_reward": final held-out mean, "kl": final held-out KL, "start": {"mean_reward", "kl"}}).
struct PpoStageOptions {
  StageOptions stage;
  PpoConfig ppo;
  std::filesystem::path prompts, eval_prompts;  // eval_prompts empty: hold out from prompts
  int eval_count = 0;                           // held-out prompts (0: 10%, 1..64)
  // auto: as the reward model renders (ChatML user turn when the tokenizer has the markers, else
  // raw text; reward_data.h) | chat | raw
  std::string prompt_format = "auto";
  // The reward when run_ppo gets none: a reward model directory, or a stated rule (the number of
  // times `reward_word` occurs in the decoded answer). Exactly one.
  std::filesystem::path reward_model;
  std::string reward_word;
  // A reward model whose held-out pairwise accuracy (reward_config.json) is below this on at
  // least 20 held-out rankings is refused (PPO would optimise its mistakes); on fewer, or below
  // 0.75, it is used with a warning. 0: accept any.
  double min_reward_accuracy = 0.6;
};

// Scores with a reward model written by `lmforge reward` (InputError when its tokenizer is not
// the policy's). The row is the prompt plus the answer ending in the reward model's end token
// (appended when the answer does not end with it), as it was trained to read.
PpoRewardFn reward_model_fn(const std::filesystem::path& rm_dir, const Tokenizer& policy_tok,
                            const std::filesystem::path& policy_dir);
// The number of occurrences of `word` in the decoded answer (a rule for experiments and tests).
// `tok` must outlive the function.
PpoRewardFn word_count_reward_fn(const std::string& word, const Tokenizer& tok);
struct PpoStageResult {
  TrainResult train;
  double start_reward = 0, final_reward = 0, final_kl = 0;
  std::filesystem::path final_dir;
};
// reward null: built from opts.reward_model / opts.reward_word.
PpoStageResult run_ppo(const PpoStageOptions& opts, PpoRewardFn reward = nullptr,
                       const TrainHooks& test_hooks = {});

}  // namespace lmforge
