// The merge-learning core of BPE training, separate from corpus reading so it can be tested and
// benchmarked on its own. Not a public API (tokenizer_train.h is).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lmforge {

// words: distinct pre-tokenized pieces as raw bytes, counts: how often each occurs. Returns up to
// n_merges merges as (left id, right id); id i < 256 is byte byte_level_order()[i], id 256 + r is
// the result of merge r. Stops early when the best pair occurs fewer than min_frequency times.
// Deterministic for a given multiset of (word, count), whatever the order of `words`.
std::vector<std::pair<int32_t, int32_t>> learn_bpe_merges(const std::vector<std::string>& words,
                                                          const std::vector<int64_t>& counts,
                                                          int64_t n_merges, int64_t min_frequency,
                                                          bool progress);

}  // namespace lmforge
