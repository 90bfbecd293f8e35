// Task fine-tuning (`lmforge finetune`): prompt/completion JSONL (or Alpaca) -> prompt tokens as
// context, completion + EOS as targets, packed or padded rows, a validation split, and a task
// metric by greedy generation on the validation prompts, measured on the base model at step 0 and
// at every evaluation (summary.json "task_metric": {name, value, start}).
// Not here: the loop and evaluation machinery (sft.h), option parsing (src/cli/finetune.cpp).
#pragma once
#include <filesystem>
#include <string>

#include "lmforge/train/sft.h"
#include "lmforge/train/stage.h"

namespace lmforge {

struct FinetuneOptions {
  StageOptions stage;
  std::filesystem::path data, val_data;  // val_data empty: split --val-fraction off data
  double val_fraction = 0.1;
  std::string packing = "pack";          // pack | pad
  std::string on_overflow = "truncate";  // truncate | error
  std::string eval_metric = "auto";      // auto | exact | contains | chrf | bleu | rougeL
  int eval_max_tokens = 0;               // 0: the longest reference completion + 8
  int eval_samples = 64;                 // validation prompts scored by generation (0: all)
  int seq_len = 0;                       // 0: the model's context
  SftReplayOptions replay;               // general text mixed in (sft_replay.h)
};

SftStageResult run_finetune(const FinetuneOptions& opts, const TrainHooks& test_hooks = {});

}  // namespace lmforge
