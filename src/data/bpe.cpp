// BPE merging of one pre-tokenized piece by merge rank, the merge hash table and the word cache.
// Not here: pre-tokenization, special tokens, file formats (tokenizer.cpp, tokenizer_io.cpp).
#include <algorithm>
#include <mutex>
#include <queue>

#include "data/tokenizer_impl.h"
#include "lmforge/core/error.h"

namespace lmforge {

void MergeTable::build(const std::vector<std::pair<int32_t, int32_t>>& merges,
                       const std::vector<int32_t>& merged_ids) {
  size_t cap = 16;
  while (cap < merges.size() * 2 + 1) cap *= 2;  // load factor <= 0.5 keeps probes short
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
  for (size_t r = 0; r < merges.size(); ++r) {
    uint64_t k = key(merges[r].first, merges[r].second);
    size_t i = hash(k) & mask_;
    while (slots_[i].key != kEmpty && slots_[i].key != k) i = (i + 1) & mask_;
    if (slots_[i].key == k) continue;  // duplicate merge: the first (lowest rank) wins, as in HF
    slots_[i] = Entry{k, static_cast<int32_t>(r), merged_ids[r]};
  }
}

bool WordCache::lookup(std::string_view word, std::vector<int32_t>& out) const {
  const Shard& s = shards_[std::hash<std::string_view>{}(word) % kShards];
  std::shared_lock lock(s.mu);
  auto it = s.map.find(word);
  if (it == s.map.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::insert(std::string_view word, const int32_t* ids, size_t n) {
  Shard& s = shards_[std::hash<std::string_view>{}(word) % kShards];
  std::unique_lock lock(s.mu);
  if (s.map.size() >= kMaxPerShard) return;
  s.map.emplace(std::string(word), std::vector<int32_t>(ids, ids + n));
}

void bpe_merge_simple(const Tokenizer::Impl& t, std::string_view piece, std::vector<int32_t>& out) {
  const size_t start = out.size();
  for (char c : piece) out.push_back(t.byte_id[static_cast<uint8_t>(c)]);
  int32_t* sym = out.data() + start;
  size_t n = piece.size();
  while (n > 1) {
    int32_t best_rank = INT32_MAX, best_id = -1;
    size_t best_pos = 0;
    for (size_t i = 0; i + 1 < n; ++i) {
      const MergeTable::Entry* e = t.merge_table.find(sym[i], sym[i + 1]);
      if (e && e->rank < best_rank) {  // strict '<' keeps the leftmost on ties
        best_rank = e->rank;
        best_id = e->id;
        best_pos = i;
      }
    }
    if (best_id < 0) break;
    sym[best_pos] = best_id;
    std::copy(sym + best_pos + 2, sym + n, sym + best_pos + 1);
    --n;
  }
  out.resize(start + n);
}

void bpe_merge_heap(const Tokenizer::Impl& t, std::string_view piece, std::vector<int32_t>& out) {
  const int n = static_cast<int>(piece.size());
  std::vector<int32_t> sym(n);
  std::vector<int> prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    sym[i] = t.byte_id[static_cast<uint8_t>(piece[i])];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  // (rank, left position, left id, right id); stale entries are skipped when popped.
  struct Cand {
    int32_t rank;
    int pos;
    int32_t left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int i) {
    if (i < 0 || next[i] < 0) return;
    if (const MergeTable::Entry* e = t.merge_table.find(sym[i], sym[next[i]]))
      heap.push(Cand{e->rank, i, sym[i], sym[next[i]]});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    int i = c.pos;
    if (dead[i] || sym[i] != c.left || next[i] < 0 || sym[next[i]] != c.right) continue;
    int j = next[i];
    sym[i] = t.merge_table.find(c.left, c.right)->id;
    dead[j] = true;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    push(prev[i]);
    push(i);
  }
  for (int i = 0; i >= 0 && i < n; i = next[i]) out.push_back(sym[i]);
}

void Tokenizer::Impl::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_id[static_cast<uint8_t>(piece[0])]);
    return;
  }
  // Long pieces are rare and seldom repeat; caching them would only fill the cache.
  constexpr size_t kCacheMaxLen = 48, kSimpleMaxLen = 64;
  const bool cacheable = piece.size() <= kCacheMaxLen;
  if (cacheable && cache.lookup(piece, out)) return;
  const size_t start = out.size();
  if (piece.size() <= kSimpleMaxLen) {
    bpe_merge_simple(*this, piece, out);
  } else {
    bpe_merge_heap(*this, piece, out);
  }
  if (cacheable) cache.insert(piece, out.data() + start, out.size() - start);
}

void Tokenizer::Impl::encode_ordinary(std::string_view text, std::vector<int32_t>& out) const {
  pretokenizer.for_each(text, [&](std::string_view p) { encode_piece(p, out); });
}

}  // namespace lmforge
