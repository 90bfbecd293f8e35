// BPE merge learning with incremental pair counts: a pair -> words index tells which words a merge
// touches, a max-heap keyed by (count, smaller pair first) picks the next merge, and stale heap
// entries are re-queued with their current count when popped (lazy invalidation; counts of
// existing pairs only ever decrease, so a popped entry whose count is current is the maximum).
// Not here: reading corpora and counting words (tokenizer_train.cpp).
#include "data/bpe_train.h"

#include <algorithm>
#include <array>
#include <optional>
#include <queue>
#include <unordered_map>

#include "lmforge/core/progress.h"
#include "lmforge/data/byte_level.h"

namespace lmforge {
namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct HeapEntry {
  int64_t count;
  uint64_t key;
  // Max-heap on count; on equal counts the smaller (left, right) pair comes first.
  bool operator<(const HeapEntry& o) const {
    return count != o.count ? count < o.count : key > o.key;
  }
};

}  // namespace

std::vector<std::pair<int32_t, int32_t>> learn_bpe_merges(const std::vector<std::string>& words,
                                                          const std::vector<int64_t>& counts,
                                                          int64_t n_merges, int64_t min_frequency,
                                                          bool progress) {
  std::array<int32_t, 256> id_of_byte{};
  const auto& order = byte_level_order();
  for (int i = 0; i < 256; ++i) id_of_byte[order[i]] = i;

  std::vector<std::vector<int32_t>> sym(words.size());
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<uint32_t>> where;
  for (size_t w = 0; w < words.size(); ++w) {
    auto& s = sym[w];
    s.reserve(words[w].size());
    for (char ch : words[w]) s.push_back(id_of_byte[static_cast<uint8_t>(ch)]);
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      uint64_t k = pair_key(s[i], s[i + 1]);
      pair_count[k] += counts[w];
      auto& v = where[k];
      if (v.empty() || v.back() != w) v.push_back(static_cast<uint32_t>(w));
    }
  }
  std::priority_queue<HeapEntry> heap;
  for (auto& [k, c] : pair_count) heap.push({c, k});

  std::vector<std::pair<int32_t, int32_t>> merges;
  merges.reserve(std::max<int64_t>(0, n_merges));
  std::optional<Progress> bar;
  if (progress) bar.emplace("bpe merges", n_merges, "merges");
  std::vector<uint64_t> new_pairs;
  while (static_cast<int64_t>(merges.size()) < n_merges && !heap.empty()) {
    HeapEntry top = heap.top();
    heap.pop();
    auto pc = pair_count.find(top.key);
    int64_t cur = pc == pair_count.end() ? 0 : pc->second;
    if (cur != top.count) {
      if (cur > 0) heap.push({cur, top.key});
      continue;
    }
    if (cur < min_frequency) break;
    const int32_t a = static_cast<int32_t>(top.key >> 32);
    const int32_t b = static_cast<int32_t>(top.key & 0xFFFFFFFFu);
    const int32_t c = 256 + static_cast<int32_t>(merges.size());
    merges.emplace_back(a, b);

    std::vector<uint32_t> ws = std::move(where[top.key]);
    where.erase(top.key);
    new_pairs.clear();
    for (uint32_t w : ws) {
      auto& s = sym[w];
      const int64_t f = counts[w];
      auto inc = [&](int32_t x, int32_t y) {
        uint64_t k = pair_key(x, y);
        pair_count[k] += f;
        auto& v = where[k];
        if (v.empty() || v.back() != w) v.push_back(w);
        new_pairs.push_back(k);
      };
      auto dec = [&](int32_t x, int32_t y) { pair_count[pair_key(x, y)] -= f; };
      // In-place left-to-right merge with local count updates. When two merges are adjacent
      // ("a b a b"), the second one's "previous symbol" is the freshly merged c, so the
      // provisional (c, a) added by the first is taken back and (c, c) added: net effect exact.
      const size_t n = s.size();
      size_t j = 0;
      for (size_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
          if (j > 0) {
            dec(s[j - 1], a);
            inc(s[j - 1], c);
          }
          if (i + 2 < n) {
            dec(b, s[i + 2]);
            inc(c, s[i + 2]);
          }
          dec(a, b);
          s[j++] = c;
          i += 2;
        } else {
          s[j++] = s[i++];
        }
      }
      s.resize(j);
    }
    pair_count.erase(top.key);
    std::sort(new_pairs.begin(), new_pairs.end());
    new_pairs.erase(std::unique(new_pairs.begin(), new_pairs.end()), new_pairs.end());
    for (uint64_t k : new_pairs) {
      auto it = pair_count.find(k);
      if (it == pair_count.end()) continue;
      if (it->second > 0) {
        heap.push({it->second, k});
      } else {
        pair_count.erase(it);
      }
    }
    if (progress && merges.size() % 64 == 0) bar->update(static_cast<int64_t>(merges.size()));
  }
  if (bar) bar->finish();
  return merges;
}

}  // namespace lmforge
