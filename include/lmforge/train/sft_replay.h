// Replay of general text in the supervised stages (finetune, instruct): `--replay DIR
// --replay-ratio r` makes a share r of the training rows plain windows of DIR's prepared
// general text (every token a target, as in pretraining), the rest the stage's own examples.
// Narrow data alone pulls a small model away from general text within minutes (the demo's general
// validation loss rose 4.0 -> 6.5 without it); a quarter of replay rows keeps it close.
// Row k (counted over the whole run) is a replay row when floor((k+1)·r) > floor(k·r), so the
// position (rows so far) is the whole state and a resume continues exactly. A replay row trains
// only its last `targets` tokens (the rest is context): a row of the stage's own examples trains
// only their answers, often ten tokens of 128, and whole rows of text would otherwise outweigh
// them in the mean loss ~10:1 and drown what the stage teaches. With `targets` = the mean trained
// tokens of an example row, the share of trained tokens from replay is about the ratio.
// Not here: pretraining's replay (train/pretrain.cpp), the examples (sft_data.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lmforge/data/token_dataset.h"
#include "lmforge/train/data_loader.h"
#include "lmforge/train/sft_data.h"

namespace lmforge {

struct SftReplayOptions {
  std::filesystem::path dir;  // a `lmforge prepare` directory; empty: no replay
  double ratio = 0.25;        // share of rows from dir, in (0, 1)
};

// Opens DIR's train split after checking it: ratio in (0, 1) (UsageError), the same tokenizer
// as the --init model (InputError naming DIR/manifest.json, field tokenizer_hash), at least T + 1
// tokens. Returns nothing when opt.dir is empty.
std::optional<TokenDataset> open_sft_replay(const SftReplayOptions& opt,
                                            const std::string& init_tokenizer_hash, int T);

class ReplaySftSource : public BatchSource {
 public:
  // `sft` and `general` must outlive the source. targets in [1, T]: trained tokens per replay row.
  ReplaySftSource(SftBatchSource& sft, const TokenDataset& general, double ratio, int B, int T,
                  int targets, uint64_t seed);
  void next(int32_t* ids, int32_t* targets) override;
  const int32_t* positions() const override { return pos_.data(); }
  int64_t position() const override { return rows_; }
  void set_position(int64_t rows) override;
  // Rows needed for `sft_rows` rows of the stage's own examples (sizes --epochs in steps).
  int64_t rows_for(int64_t sft_rows) const;
  // Replay rows among the first n rows.
  int64_t replay_rows(int64_t n) const;

 private:
  SftBatchSource& sft_;
  DataLoader replay_;
  double ratio_;
  int B_, T_, targets_;
  int64_t rows_ = 0;
  std::vector<int32_t> pos_, buf_;
};

}  // namespace lmforge
