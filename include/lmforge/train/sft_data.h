// Supervised examples for finetune and instruct: token ids with a per-token loss mask, fitted to
// the context, and a BatchSource that packs several examples per row (positions restart at each
// example, so attention never crosses an example) or pads one example per row.
// An example x_0..x_{L-1} with mask m trains the next-token predictions x_t -> x_{t+1} where
// m[t+1] = 1: the prompt never contributes to the loss, the completion and its EOS do.
// Order: each epoch is a permutation of the examples drawn from (seed, epoch); a batch always
// starts at the next unused example, so the position (examples consumed) is the whole state and a
// resume continues exactly.
// Not here: reading JSONL (data/datasets.h), chat rendering (data/chat_render.h), the stages.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lmforge/data/datasets.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/train/trainer.h"

namespace lmforge {

struct SftExample {
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;  // 1: ids[i] is a trained target
  int64_t line = 0;           // the JSONL line it came from
  int64_t prompt_tokens = 0;  // leading tokens that are context (generation starts after them)
};

// prompt ids (mask 0), then completion ids and the EOS id (mask 1).
SftExample encode_prompt_completion(const Tokenizer& tok, const PromptCompletionExample& ex,
                                    int32_t eos_id);

enum class OnOverflow { kTruncate, kError };
OnOverflow parse_on_overflow(const std::string& name);  // "truncate" | "error"

struct FitReport {
  int64_t truncated = 0;  // examples cut to the context
  int64_t dropped = 0;    // examples with no trained token left after the cut
};

// Makes every example at most max_tokens long (the context + 1: a row of T inputs consumes T + 1
// tokens). kTruncate keeps the first max_tokens tokens and drops examples left without a trained
// token; kError throws InputError(file, line, field, ...) on the first example that is too long.
FitReport fit_examples(std::vector<SftExample>& examples, int max_tokens, OnOverflow mode,
                       const std::string& file, const std::string& field);

// Splits off a validation set: every example whose seeded hash falls below `fraction` (at least
// one when fraction > 0 and there are two or more examples). Deterministic for a seed.
void split_validation(std::vector<SftExample>& train, std::vector<SftExample>& val, double fraction,
                      uint64_t seed);

class SftBatchSource : public BatchSource {
 public:
  // pack: rows hold consecutive examples (positions restart at 0); otherwise one per row.
  // pad_id fills unused slots (their targets are masked).
  SftBatchSource(const std::vector<SftExample>& examples, int B, int T, bool pack, int32_t pad_id,
                 uint64_t seed);
  void next(int32_t* ids, int32_t* targets) override;
  const int32_t* positions() const override { return pack_ ? pos_.data() : nullptr; }
  int64_t position() const override { return consumed_; }
  void set_position(int64_t p) override { consumed_ = p; }
  // Rows one epoch fills (the examples count when padding): sizes --epochs in steps.
  int64_t rows_per_epoch();
  // One row of T: ids, targets, positions (each may be written; none is null). A source that
  // interleaves other rows (sft_replay.h) calls this instead of next().
  void next_row(int32_t* ids, int32_t* targets, int32_t* pos);
  // The examples consumed after `rows` rows from the start (rows are deterministic): what a
  // resume of an interleaving source sets as position().
  int64_t examples_after_rows(int64_t rows);
  // Mean trained (unmasked) targets per row over one epoch.
  double trained_targets_per_row();

 private:
  const SftExample& example_at(int64_t k);  // the k-th example of the endless epoch stream

  const std::vector<SftExample>& ex_;
  int B_, T_;
  bool pack_;
  int32_t pad_;
  uint64_t seed_;
  int64_t consumed_ = 0;
  int64_t perm_epoch_ = -1;
  std::vector<int64_t> perm_;
  std::vector<int32_t> pos_;
};

// Fills (ids, targets[, pos]) rows of length T from one example starting at column `col`:
// ids x_0..x_{L-2}, targets x_{t+1} where mask[t+1] (else -1), positions 0..L-2. Returns the
// columns used (L - 1). Shared by the batch source and the validation loss.
int place_example(const SftExample& ex, int32_t* ids, int32_t* targets, int32_t* pos, int col);

}  // namespace lmforge
