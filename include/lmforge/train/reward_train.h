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
};

struct RewardTrainResult {
  TrainResult train;
  std::filesystem::path final_dir;  // empty when interrupted
  nlohmann::json summary;           // what RUN/summary.json holds
};

// Defaults for the stage options of `lmforge reward` (lr 1e-5 is too timid for the small models
// lmforge trains from scratch; 5e-5 with 1 epoch is the CLI default).
StageOptions reward_default_stage_options();

RewardTrainResult run_reward(const RewardTrainOptions& opts, const TrainHooks& test_hooks = {});

}  // namespace lmforge
