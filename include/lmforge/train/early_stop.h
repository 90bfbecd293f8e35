// Model selection on a held-out measure, for the stages that evaluate while they train (reward,
// DPO, finetune, instruct): every evaluation is compared with the best so far; the trainable
// weights of the best one are kept (in memory and in RUN/best_weights.bin, so an interrupted and
// resumed run still knows them), the stage restores them before writing final/ when a later
// evaluation was worse, and after `patience` evaluations in a row without improvement the loop
// is asked to stop (TrainHooks::stop_after_eval).
// Why: a few hundred rankings or examples trained for many epochs overfit, and the last step is
// then not the best model (measured: DPO over 12 epochs of 40 rankings took held-out correctness
// from 100% to 45%; docs/RLHF.md). The step-0 evaluation (the --init model) is a candidate too,
// so a stage that only makes the held-out measure worse hands back the model it started from.
// Not here: what is measured (each stage's eval hook), the loop (trainer.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "lmforge/train/trainer.h"

namespace lmforge {

struct EarlyStopConfig {
  std::string metric;  // the eval map's key ("val_loss", "reward_accuracy", ...)
  bool higher_is_better = false;
  std::string tie_metric;  // optional: decides between equal values of `metric`
  bool tie_higher_is_better = false;
  int patience = 0;      // evaluations without improvement before stopping; 0: never stop
  double min_delta = 0;  // a change of `metric` smaller than this is no improvement
};

// A view of trainable weights the selection copies and restores (e.g. a model's arena and an
// extra head); the memory must outlive the BestWeights.
struct WeightSpan {
  float* data = nullptr;
  size_t numel = 0;
};

class BestWeights {
 public:
  // `file` empty: memory only. `writes`: this process writes the file (rank 0).
  BestWeights(std::filesystem::path file, EarlyStopConfig cfg, std::vector<WeightSpan> weights,
              bool writes = true);
  // Reads the file of an earlier (interrupted) run when it matches the weights' sizes and the
  // metric; returns whether it did.
  bool load();
  // One evaluation after `step` (0: the start model). Copies the weights when it is the best so
  // far. Returns true when `patience` evaluations in a row brought no improvement.
  bool observe(int64_t step, const std::map<std::string, double>& eval);
  // Copies the best weights back into the spans when the best evaluation is not the latest one;
  // returns whether it did.
  bool restore();
  bool has_best() const { return best_step_ >= 0; }
  int64_t best_step() const { return best_step_; }
  int64_t last_step() const { return last_step_; }
  double best_value() const { return best_value_; }
  // The best evaluation's values (empty before the first observe).
  const std::map<std::string, double>& best_eval() const { return best_eval_; }
  const EarlyStopConfig& config() const { return cfg_; }

 private:
  bool better(const std::map<std::string, double>& eval) const;
  void write() const;

  std::filesystem::path file_;
  EarlyStopConfig cfg_;
  std::vector<WeightSpan> spans_;
  bool writes_;
  std::vector<float> best_;  // all spans, concatenated
  std::map<std::string, double> best_eval_;
  int64_t best_step_ = -1, last_step_ = -1;
  double best_value_ = 0;
  int since_best_ = 0;
};

// The stage's side, in two calls around run_stage_loop:
// attach_best_weights: on a fresh run observes the step-0 evaluation `start` (the --init model is
// a candidate), on a resume reads RUN/best_weights.bin; chains hooks.stop_after_eval to observe().
void attach_best_weights(BestWeights& best, TrainHooks& hooks, bool resumed,
                         const std::map<std::string, double>& start);
// finish_best_weights: restores the best weights when a later evaluation was worse, then makes
// `result` report the best evaluation (last_eval, last_val_loss) and says so on stderr. Returns
// whether weights were restored.
bool finish_best_weights(BestWeights& best, TrainResult& result, const std::string& stage);

// The evaluation cadence a stage uses for selection when the user gave none (--eval-every 0):
// about `evals` evaluations over `total_steps` (at least every step).
int64_t selection_eval_every(int64_t total_steps, int evals = 10);

}  // namespace lmforge
