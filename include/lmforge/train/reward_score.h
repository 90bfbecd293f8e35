// `lmforge reward score` as a library call: scores every response of a JSONL file with a reward
// model. The input is rankings JSONL ({"prompt","responses"} or {"prompt","chosen","rejected"})
// or prompt/completion JSONL ({"prompt","completion"}, Alpaca too), told apart by the first
// line's keys. Output: one JSON object per input example, in input order:
//   rankings           {"line": N, "scores": [s_best, ..., s_worst], "pair_accuracy": a}
//   prompt/completion  {"line": N, "score": s}
// Rows are validated (file:line:field errors for responses longer than the context, duplicates)
// before any score is written. Not here: training (reward_train.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <ostream>

#include "lmforge/train/reward_model.h"

namespace lmforge {

struct RewardScoreStats {
  bool rankings = false;     // the input was rankings
  int64_t examples = 0;      // input lines scored
  int64_t rows = 0;          // responses scored
  int64_t pairs = 0;         // rankings only: ordered pairs i<j
  double pair_accuracy = 0;  // rankings only: fraction of pairs the scores order as the file does
  double mean_score = 0;
};

RewardScoreStats score_file(RewardModel& rm, const std::filesystem::path& data, std::ostream& out);

}  // namespace lmforge
