// `lmforge reward` as a library call: trains a reward model (the --init transformer plus a scalar
// head on the last token, reward_model.h) on rankings JSONL with a listwise (Plackett-Luce,
// default) or pairwise (Bradley-Terry over all K·(K−1)/2 pairs) loss. All K responses of a
// ranking go into the same micro-batch; --batch-size counts rankings per micro-batch (each
// contributes K rows). A seeded --val-fraction of the rankings is held out: every evaluation
// reports val_loss (the ranking loss), reward_accuracy (fraction of held-out pairs ordered
// right) and margin (mean score gap of those pairs) into metrics.jsonl; training micro-batches
// report train_accuracy and train_margin.
// RUN/final/ is always a self-contained model directory (with LoRA: the merged model, the
// adapter in RUN/adapter/) plus score_head.safetensors and reward_config.json, because the
// scorer and PPO need the whole reward model in one place. RUN/summary.json carries
// "reward_accuracy" and "margin".
// Not here: option parsing (src/cli/reward.cpp), scoring files (reward_score.h).
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "lmforge/train/stage.h"
#include "lmforge/train/trainer.h"

namespace lmforge {

struct RewardTrainOptions {
  StageOptions stage;
  std::filesystem::path data;
  std::string loss = "listwise";  // listwise | pairwise
  double val_fraction = 0.1;
  // Without --max-steps, at least this many steps: --epochs grows to as many passes as reach it
  // (a few hundred rankings make a few dozen steps per epoch, far too few to learn them).
  int64_t min_steps = 150;
  // Model selection on the held-out rankings (early_stop.h): reward_accuracy (ties: the lower
  // val_loss) is measured about ten times (unless --eval-every says otherwise), the best weights
  // and head are the ones written, and after `early_stop_patience` evaluations without
  // improvement training stops (0: never early). keep_last: write the last step's instead.
  int early_stop_patience = 4;
  bool keep_last = false;
};

struct RewardTrainResult {
  TrainResult train;
  std::filesystem::path final_dir;  // empty when interrupted
  nlohmann::json summary;           // what RUN/summary.json holds
};

// Defaults for the stage options of `lmforge reward`: lr 1e-4, 4 rankings per micro-batch, 1
// epoch but at least RewardTrainOptions::min_steps steps (measured on bench/alignment_check.sh:
// 9 steps at 5e-5 ranked 67% of held-out pairs right, 90 steps at 1e-4 91%).
StageOptions reward_default_stage_options();

// The epochs that make at least min_steps optimizer steps over items_per_epoch examples (never
// fewer than o.epochs, at most 1000); o.epochs when --max-steps is set or min_steps is 0.
int epochs_for_min_steps(const StageOptions& o, int64_t items_per_epoch, int64_t min_steps);
// Sets o.epochs to epochs_for_min_steps and says so on stderr when it grew ("STAGE: N rankings
// make few steps per epoch; ..."); shared by the ranking stages (reward, DPO).
void apply_min_steps(const char* stage, StageOptions& o, int64_t items_per_epoch,
                     int64_t min_steps);

RewardTrainResult run_reward(const RewardTrainOptions& opts, const TrainHooks& test_hooks = {});

}  // namespace lmforge
