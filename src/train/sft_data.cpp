// Supervised examples: encoding, fitting to the context, validation split, packed/padded batches
// (see sft_data.h).
#include "lmforge/train/sft_data.h"

#include <algorithm>
#include <numeric>

#include "lmforge/core/error.h"
#include "lmforge/core/rng.h"

namespace lmforge {

SftExample encode_prompt_completion(const Tokenizer& tok, const PromptCompletionExample& ex,
                                    int32_t eos_id) {
  SftExample out;
  out.line = ex.line;
  tok.encode_append(ex.prompt, out.ids);
  out.prompt_tokens = static_cast<int64_t>(out.ids.size());
  out.mask.assign(out.ids.size(), 0);
  tok.encode_append(ex.completion, out.ids);
  out.ids.push_back(eos_id);
  out.mask.resize(out.ids.size(), 1);
  return out;
}

OnOverflow parse_on_overflow(const std::string& name) {
  if (name == "truncate") return OnOverflow::kTruncate;
  if (name == "error") return OnOverflow::kError;
  throw UsageError("--on-overflow must be truncate or error, got '" + name + "'");
}

FitReport fit_examples(std::vector<SftExample>& examples, int max_tokens, OnOverflow mode,
                       const std::string& file, const std::string& field) {
  FitReport r;
  std::vector<SftExample> kept;
  kept.reserve(examples.size());
  for (SftExample& e : examples) {
    if (static_cast<int64_t>(e.ids.size()) > max_tokens) {
      if (mode == OnOverflow::kError)
        throw InputError(file, e.line, field,
                         "the example has " + std::to_string(e.ids.size()) +
                             " tokens but the model's context fits " + std::to_string(max_tokens),
                         "shorten it, or pass --on-overflow truncate to cut long examples");
      e.ids.resize(max_tokens);
      e.mask.resize(max_tokens);
      e.prompt_tokens = std::min<int64_t>(e.prompt_tokens, max_tokens);
      ++r.truncated;
    }
    // The first token is never a target (nothing precedes it).
    bool trained = false;
    for (size_t i = 1; i < e.mask.size(); ++i) trained = trained || e.mask[i];
    if (!trained) {
      ++r.dropped;
      continue;
    }
    kept.push_back(std::move(e));
  }
  examples = std::move(kept);
  return r;
}

void split_validation(std::vector<SftExample>& train, std::vector<SftExample>& val, double fraction,
                      uint64_t seed) {
  if (fraction <= 0 || train.size() < 2) return;
  std::vector<SftExample> keep;
  for (SftExample& e : train) {
    Rng rng(seed_for(seed, "val-split:" + std::to_string(e.line)));
    (rng.uniform() < fraction ? val : keep).push_back(std::move(e));
  }
  if (val.empty()) {  // small files: still hold one out
    val.push_back(std::move(keep.back()));
    keep.pop_back();
  }
  if (keep.empty()) {
    keep.push_back(std::move(val.back()));
    val.pop_back();
  }
  train = std::move(keep);
}

int place_example(const SftExample& ex, int32_t* ids, int32_t* targets, int32_t* pos, int col) {
  const int n = static_cast<int>(ex.ids.size()) - 1;
  for (int t = 0; t < n; ++t) {
    ids[col + t] = ex.ids[t];
    targets[col + t] = ex.mask[t + 1] ? ex.ids[t + 1] : -1;
    if (pos) pos[col + t] = t;
  }
  return n;
}

SftBatchSource::SftBatchSource(const std::vector<SftExample>& examples, int B, int T, bool pack,
                               int32_t pad_id, uint64_t seed)
    : ex_(examples),
      B_(B),
      T_(T),
      pack_(pack),
      pad_(pad_id),
      seed_(seed),
      pos_(static_cast<size_t>(B) * T) {
  if (ex_.empty()) throw UsageError("no training examples");
  for (const auto& e : ex_)
    check(static_cast<int>(e.ids.size()) <= T + 1 && e.ids.size() >= 2, "sft",
          "example longer than the context (fit_examples first)");
}

const SftExample& SftBatchSource::example_at(int64_t k) {
  const int64_t n = static_cast<int64_t>(ex_.size());
  const int64_t epoch = k / n;
  if (epoch != perm_epoch_) {  // Fisher-Yates from (seed, epoch): any position is reachable
    perm_.resize(n);
    std::iota(perm_.begin(), perm_.end(), 0);
    Rng rng(seed_for(seed_, "sft-epoch-" + std::to_string(epoch)));
    for (int64_t i = n - 1; i > 0; --i) std::swap(perm_[i], perm_[rng.below(i + 1)]);
    perm_epoch_ = epoch;
  }
  return ex_[perm_[k % n]];
}

void SftBatchSource::next_row(int32_t* ri, int32_t* rt, int32_t* rp) {
  int col = 0;
  do {
    const SftExample& e = example_at(consumed_);
    if (col + static_cast<int>(e.ids.size()) - 1 > T_) break;  // the row is full
    col += place_example(e, ri, rt, rp, col);
    ++consumed_;
  } while (pack_ && col < T_);
  // Padding: masked targets; positions start a new (empty) document so no real token attends
  // to it and it attends to no real token.
  for (int t = col; t < T_; ++t) {
    ri[t] = pad_;
    rt[t] = -1;
    rp[t] = t - col;
  }
}

void SftBatchSource::next(int32_t* ids, int32_t* targets) {
  for (int b = 0; b < B_; ++b)
    next_row(ids + static_cast<size_t>(b) * T_, targets + static_cast<size_t>(b) * T_,
             pos_.data() + static_cast<size_t>(b) * T_);
}

int64_t SftBatchSource::examples_after_rows(int64_t rows) {
  if (!pack_) return rows;
  const int64_t saved = consumed_;
  consumed_ = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int col = 0;
    do {
      const SftExample& e = example_at(consumed_);
      if (col + static_cast<int>(e.ids.size()) - 1 > T_) break;
      col += static_cast<int>(e.ids.size()) - 1;
      ++consumed_;
    } while (col < T_);
  }
  const int64_t after = consumed_;
  consumed_ = saved;
  return after;
}

double SftBatchSource::trained_targets_per_row() {
  int64_t targets = 0;
  for (const auto& e : ex_)
    for (size_t i = 1; i < e.mask.size(); ++i) targets += e.mask[i];
  return static_cast<double>(targets) / static_cast<double>(std::max<int64_t>(1, rows_per_epoch()));
}

int64_t SftBatchSource::rows_per_epoch() {
  if (!pack_) return static_cast<int64_t>(ex_.size());
  const int64_t saved = consumed_;
  const int64_t n = static_cast<int64_t>(ex_.size());
  consumed_ = 0;
  int64_t rows = 0;
  while (consumed_ < n) {
    int col = 0;
    do {
      const SftExample& e = example_at(consumed_);
      if (col + static_cast<int>(e.ids.size()) - 1 > T_) break;
      col += static_cast<int>(e.ids.size()) - 1;
      ++consumed_;
    } while (col < T_ && consumed_ < n);
    ++rows;
  }
  consumed_ = saved;
  return rows;
}

}  // namespace lmforge
