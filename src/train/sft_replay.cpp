// Replay rows of general text between the supervised examples (see sft_replay.h).
#include "lmforge/train/sft_replay.h"

#include <algorithm>
#include <cmath>

#include "lmforge/core/error.h"

namespace lmforge {

std::optional<TokenDataset> open_sft_replay(const SftReplayOptions& opt,
                                            const std::string& init_tokenizer_hash, int T) {
  if (opt.dir.empty()) return std::nullopt;
  if (!(opt.ratio > 0 && opt.ratio < 1))
    throw UsageError("--replay-ratio must be in (0, 1), got " + std::to_string(opt.ratio));
  DataManifest man = read_manifest(opt.dir);
  if (man.tokenizer_hash != init_tokenizer_hash)
    throw InputError((opt.dir / "manifest.json").string(), 0, "tokenizer_hash",
                     "the --replay data was prepared with another tokenizer than the --init "
                     "model's (" +
                         man.tokenizer_hash.substr(0, 12) + " vs " +
                         init_tokenizer_hash.substr(0, 12) + ")",
                     "prepare it with the model's tokenizer: lmforge prepare --tokenizer MODEL");
  TokenDataset ds = TokenDataset::open(opt.dir, "train");
  if (ds.num_tokens() < uint64_t(T) + 1)
    throw InputError((opt.dir / "manifest.json").string(), 0, "train_tokens",
                     "the --replay data has " + std::to_string(ds.num_tokens()) +
                         " training tokens, fewer than one row of " + std::to_string(T + 1));
  return ds;
}

ReplaySftSource::ReplaySftSource(SftBatchSource& sft, const TokenDataset& general, double ratio,
                                 int B, int T, int targets, uint64_t seed)
    : sft_(sft),
      replay_([&general](int64_t pos, int64_t n,
                         int32_t* out) { general.read(uint64_t(pos), size_t(n), out); },
              static_cast<int64_t>(general.num_tokens()), T,
              seed ^ 0x5265706c6179ull),  // its own window order
      ratio_(ratio),
      B_(B),
      T_(T),
      targets_(std::clamp(targets, 1, T)),
      pos_(static_cast<size_t>(B) * T),
      buf_(static_cast<size_t>(T) + 1) {}

int64_t ReplaySftSource::replay_rows(int64_t n) const {
  // A tiny epsilon keeps 0.25·4 = 1 exact.
  return static_cast<int64_t>(std::floor(static_cast<double>(n) * ratio_ + 1e-9));
}

int64_t ReplaySftSource::rows_for(int64_t sft_rows) const {
  return static_cast<int64_t>(std::ceil(static_cast<double>(sft_rows) / (1.0 - ratio_)));
}

void ReplaySftSource::next(int32_t* ids, int32_t* targets) {
  for (int b = 0; b < B_; ++b) {
    int32_t* ri = ids + static_cast<size_t>(b) * T_;
    int32_t* rt = targets + static_cast<size_t>(b) * T_;
    int32_t* rp = pos_.data() + static_cast<size_t>(b) * T_;
    if (replay_rows(rows_ + 1) > replay_rows(rows_)) {
      replay_.next_batch(1, buf_.data());
      for (int t = 0; t < T_; ++t) {
        ri[t] = buf_[t];
        rt[t] = t >= T_ - targets_ ? buf_[t + 1] : -1;
        rp[t] = t;
      }
    } else {
      sft_.next_row(ri, rt, rp);
    }
    ++rows_;
  }
}

void ReplaySftSource::set_position(int64_t rows) {
  rows_ = rows;
  replay_.set_position(replay_rows(rows));
  sft_.set_position(sft_.examples_after_rows(rows - replay_rows(rows)));
}

}  // namespace lmforge
