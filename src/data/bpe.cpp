// BPE merging of one pre-tokenized piece by merge rank, and the hash tables it uses.
// Not here: pre-tokenization, special tokens, file formats (tokenizer.cpp, tokenizer_io.cpp).
#include <algorithm>
#include <queue>
#include <unordered_map>

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

void TokenTable::build(const std::vector<std::string>& vocab, const std::vector<bool>& skip) {
  vocab_ = &vocab;
  size_t cap = 16;
  while (cap < vocab.size() * 2 + 1) cap *= 2;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  for (size_t id = 0; id < vocab.size(); ++id) {
    if (skip[id]) continue;
    const uint64_t h = hash_bytes(vocab[id]);
    size_t i = h & mask_;
    bool dup = false;
    while (slots_[i].id >= 0) {
      if (slots_[i].hash == h && vocab[slots_[i].id] == vocab[id]) dup = true;
      i = (i + 1) & mask_;
    }
    if (!dup) slots_[i] = Slot{h, static_cast<int32_t>(id)};  // the lowest id wins
  }
}

void bpe_merge_simple(const Tokenizer::Impl& t, std::string_view piece, std::vector<int32_t>& out) {
  // Ranks of adjacent pairs are kept in an array; after a merge only the two pairs around it are
  // looked up again (tiktoken's scheme), so each step is one linear scan without hashing.
  constexpr int32_t kNone = INT32_MAX;
  const size_t start = out.size();
  for (char c : piece) out.push_back(t.byte_id[static_cast<uint8_t>(c)]);
  int32_t* sym = out.data() + start;
  size_t n = piece.size();
  int32_t rank_buf[128];
  std::vector<int32_t> rank_heap;
  int32_t* rank = rank_buf;
  if (n > 128) {
    rank_heap.resize(n);
    rank = rank_heap.data();
  }
  auto rank_of = [&](size_t i) {
    const MergeTable::Entry* e = t.merge_table.find(sym[i], sym[i + 1]);
    return e ? e->rank : kNone;
  };
  for (size_t i = 0; i + 1 < n; ++i) rank[i] = rank_of(i);
  while (n > 1) {
    int32_t best = kNone;
    size_t pos = 0;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (rank[i] < best) {  // strict '<' keeps the leftmost on ties
        best = rank[i];
        pos = i;
      }
    }
    if (best == kNone) break;
    sym[pos] = t.merge_table.find(sym[pos], sym[pos + 1])->id;
    std::copy(sym + pos + 2, sym + n, sym + pos + 1);
    if (pos + 2 < n) std::copy(rank + pos + 2, rank + n - 1, rank + pos + 1);
    --n;
    if (pos + 1 < n) rank[pos] = rank_of(pos);
    if (pos > 0) rank[pos - 1] = rank_of(pos - 1);
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
  constexpr size_t kSimpleMaxLen = 64;
  if (piece.size() <= kSimpleMaxLen) {
    if (int32_t id = token_table.find(piece); id >= 0) {
      out.push_back(id);
      return;
    }
    bpe_merge_simple(*this, piece, out);
  } else {
    bpe_merge_heap(*this, piece, out);
  }
}

void Tokenizer::Impl::encode_ordinary(std::string_view text, std::vector<int32_t>& out) const {
  // Short texts (a CLI line) go straight to encode_piece. Long ones get a cache, local to this
  // call so that concurrent encode() calls share nothing mutable, of the merge results of pieces
  // that are not whole tokens (frequent inflected or rare words): merging was the largest cost.
  if (text.size() < 4096) {
    pretokenizer.for_each(text, [&](std::string_view p) { encode_piece(p, out); });
    return;
  }
  struct Hash {
    size_t operator()(std::string_view s) const { return hash_bytes(s); }
  };
  constexpr size_t kMaxEntries = 1 << 16;
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>, Hash> cache;
  std::vector<int32_t> store;  // cached ids; the keys point into `text`, alive for this call
  pretokenizer.for_each(text, [&](std::string_view p) {
    if (p.size() == 1 || p.size() > 64) return encode_piece(p, out);
    if (int32_t id = token_table.find(p); id >= 0) return out.push_back(id);
    if (auto it = cache.find(p); it != cache.end()) {
      const int32_t* ids = store.data() + it->second.first;
      out.insert(out.end(), ids, ids + it->second.second);
      return;
    }
    const size_t start = out.size();
    bpe_merge_simple(*this, p, out);
    if (cache.size() < kMaxEntries) {
      cache.emplace(p, std::make_pair(static_cast<uint32_t>(store.size()),
                                      static_cast<uint32_t>(out.size() - start)));
      store.insert(store.end(), out.begin() + start, out.end());
    }
  });
}

}  // namespace lmforge
