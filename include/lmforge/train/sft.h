// The supervised stage both `finetune` and `instruct` run once their data is tokenized: masked
// next-token cross-entropy on the one trainer loop (LanguageModelObjective over an
// SftBatchSource), evaluation of the validation loss and token accuracy, and a generation metric
// measured at step 0 (the base model) and at every evaluation, reported in metrics.jsonl and
// RUN/summary.json.
// Not here: reading and rendering the data (finetune.h, instruct.h), the shared stage plumbing
// (stage.h), the metrics' definitions (task_metrics.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmforge/data/tokenizer.h"
#include "lmforge/train/sft_data.h"
#include "lmforge/train/sft_replay.h"
#include "lmforge/train/stage.h"

namespace lmforge {

struct SftStageSpec {
  std::string name;  // "finetune" | "instruct": progress label and summary "stage"
  StageOptions stage;
  const Tokenizer* tok = nullptr;
  std::vector<SftExample> train, val;  // fitted to T + 1 tokens
  int T = 0;                           // row length
  bool pack = true;
  int32_t pad_id = 0;
  // Generation evaluation: prompts, reference texts, the metric (task_metrics.h names), where the
  // headline goes in summary.json ("task_metric" {name, value, start} or "instruct_accuracy").
  std::vector<std::vector<int32_t>> gen_prompts;
  std::vector<std::string> gen_refs;
  std::string metric = "exact";
  std::string headline = "task_metric";
  int eval_max_tokens = 32;
  std::vector<int32_t> stop_ids;
  nlohmann::json resume_config = nlohmann::json::object();
  std::vector<std::filesystem::path> tokenizer_files;
  // General text mixed in (sft_replay.h): open_sft_replay()'s result and the share of rows.
  std::shared_ptr<const TokenDataset> replay;
  std::filesystem::path replay_dir;
  double replay_ratio = 0;
  std::function<void(Transformer&)> prepare;  // on a fresh start, before LoRA (see begin_stage)
  // Held-out selection (early_stop.h) when the stage evaluates during training (--eval-every):
  // the weights of the best evaluation (the generation metric, ties broken by val_loss; val_loss
  // alone without generation prompts) are written; patience > 0 also stops early.
  bool select_best = false;
  int early_stop_patience = 0;
  int auto_evals = 0;  // with select_best and --eval-every 0: evaluations over the run (0: none)
  // false: select on val_loss even with generation prompts (they are a test set: choosing the
  // step by them would bias the score they report)
  bool select_on_generation = true;
};

struct SftStageResult {
  TrainResult train;
  std::filesystem::path final_dir;  // empty when interrupted
  int64_t total_steps = 0;
  nlohmann::json start, last;  // step-0 and final evaluation values
  nlohmann::json summary;      // what RUN/summary.json holds
};

// The key a metric has in metrics.jsonl ("exact" -> "exact_match", "contains" ->
// "contains_answer", others as named).
std::string metric_key(const std::string& metric);

SftStageResult run_sft_stage(SftStageSpec spec, const TrainHooks& test_hooks = {});

// Every model directory file the tokenizer needs (tokenizer.json, tokenizer_config.json when
// present).
std::vector<std::filesystem::path> tokenizer_files_of(const std::filesystem::path& model_dir);

}  // namespace lmforge
