// Instruction tuning (`lmforge instruct`): chat JSONL rendered by the ChatML renderer
// (data/chat_render.h: ids and loss mask together, loss on assistant turns and their <|im_end|>),
// trained as the supervised stage (sft.h); the template goes into the output's
// tokenizer_config.json so chat/serve render exactly what was trained. Held-out conversations
// (their last message is the reference assistant reply) are answered by greedy generation and
// scored by exact match (default) or contains-answer: "instruct_accuracy" at step 0 and at the end.
// A tokenizer without <|im_start|>/<|im_end|> gets them added (new ids at the end) and the model's
// embedding rows grown, the new rows set to the mean embedding, with a notice.
// Not here: option parsing (src/cli/instruct.cpp), the loop (sft.h, stage.h).
#pragma once
#include <filesystem>
#include <string>

#include "lmforge/model/transformer.h"
#include "lmforge/train/sft.h"

namespace lmforge {

struct InstructOptions {
  StageOptions stage;
  std::filesystem::path data, val_data, heldout;
  double val_fraction = 0.1;
  std::string packing = "pack", on_overflow = "truncate";
  std::string heldout_metric = "exact";  // exact | contains
  int eval_max_tokens = 0;               // 0: the longest reference + 8
  int seq_len = 0;                       // 0: the model's context
  SftReplayOptions replay;               // general text mixed in (sft_replay.h)
  // Held-out selection (sft.h, early_stop.h): instruct_accuracy on the validation conversations
  // (or --heldout) measured 5 times over the run unless --eval-every says otherwise; the best
  // evaluation's weights are written. keep_last: the last step's instead.
  bool keep_last = false;
  int early_stop_patience = 0;
};

SftStageResult run_instruct(const InstructOptions& opts, const TrainHooks& test_hooks = {});

// Adds the chat markers the tokenizer lacks to dir/tokenizer.json (as special added tokens with
// the next free ids) and writes tokenizer files with the ChatML chat_template into out_dir.
// Returns how many tokens were added.
int write_chat_tokenizer(const std::filesystem::path& model_dir,
                         const std::filesystem::path& out_dir);

// A model with vocab_size new_vocab: existing rows kept, new embedding (and untied head) rows
// set to the mean of the existing rows.
Transformer grow_vocab(const Transformer& model, int new_vocab);

}  // namespace lmforge
