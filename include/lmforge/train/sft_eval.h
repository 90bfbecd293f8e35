// Evaluation for the supervised stages: the teacher-forced validation loss and token accuracy
// over the trained (masked) tokens, and greedy completions of prompts for generation metrics.
// Both use the model as it trains (LoRA adapters included: generation runs on a merged copy,
// since the inference engine does not apply adapters).
// Not here: the metrics on text (task_metrics.h), the stages (finetune.h, instruct.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lmforge/data/tokenizer.h"
#include "lmforge/model/transformer.h"
#include "lmforge/train/sft_data.h"

namespace lmforge {

struct SftEval {
  double loss = 0;            // mean cross-entropy over trained tokens
  double token_accuracy = 0;  // fraction of trained tokens that are the argmax prediction
  int64_t tokens = 0;
};

// One example per row, B rows per forward (T: the row length, at least the longest example - 1).
SftEval evaluate_sft(Transformer& model, const std::vector<SftExample>& examples, int B, int T);

// Greedy completion of each prompt: at most max_tokens new tokens, ending before the first stop
// id (not included). Prompts that leave no room in the context get an empty completion.
std::vector<std::vector<int32_t>> greedy_complete(const Transformer& model, const Tokenizer& tok,
                                                  const std::vector<std::vector<int32_t>>& prompts,
                                                  int max_tokens,
                                                  const std::vector<int32_t>& stop_ids);

}  // namespace lmforge
