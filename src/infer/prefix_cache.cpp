// The prefix-cache pool: choice of the best pooled prefix, copy of shared rows, LRU bookkeeping.
// Copying relies on the cache layout engine.h documents, k and v each (L, NKV, maxT, HS): the
// first n positions of one (layer, kv head) are n·HS contiguous floats.
#include "lmforge/infer/prefix_cache.h"

#include <algorithm>
#include <cstring>

#include "lmforge/core/error.h"

namespace lmforge {
namespace {
constexpr size_t kNone = (size_t)-1;
}

size_t kv_cache_bytes(const ModelConfig& cfg, int capacity) {
  return 2 * (size_t)cfg.n_layer * cfg.n_kv_head * (size_t)capacity * cfg.head_dim * sizeof(float);
}

PrefixCachePool::PrefixCachePool(const ModelConfig& cfg, int capacity, int slots)
    : cfg_(cfg),
      capacity_(capacity),
      slots_(std::max(slots, 0)),
      bytes_per_cache_(kv_cache_bytes(cfg, capacity)) {
  check(capacity > 0 && capacity <= cfg.n_ctx, "prefix_cache",
        "capacity " + std::to_string(capacity) + " outside 1.." + std::to_string(cfg.n_ctx));
  stats_.slots = slots_;
  stats_.bytes_per_cache = bytes_per_cache_;
}

size_t PrefixCachePool::victim_locked() const {
  size_t lru = kNone;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].cache->size() == 0) return i;
    if (lru == kNone || entries_[i].used < entries_[lru].used) lru = i;
  }
  return lru;
}

std::unique_ptr<KVCache> PrefixCachePool::blank_locked(size_t held_out) {
  // Recycle a blank entry any time, and the least recently used one when the pool is full (it
  // would be the next to go anyway); otherwise allocate.
  size_t v = victim_locked();
  if (v != kNone &&
      (entries_[v].cache->size() == 0 || entries_.size() + held_out >= (size_t)slots_)) {
    std::unique_ptr<KVCache> c = std::move(entries_[v].cache);
    entries_.erase(entries_.begin() + (long)v);
    c->truncate(0);
    return c;
  }
  ++stats_.allocations;
  return std::make_unique<KVCache>(cfg_, capacity_);
}

void PrefixCachePool::copy_prefix(KVCache& dst, KVCache& src, int n) const {
  const size_t plane = (size_t)capacity_ * cfg_.head_dim;  // one kv head's (maxT, HS)
  const size_t rows = (size_t)n * cfg_.head_dim * sizeof(float);
  for (int l = 0; l < cfg_.n_layer; ++l)
    for (int g = 0; g < cfg_.n_kv_head; ++g) {
      std::memcpy(dst.k(l) + g * plane, src.k(l) + g * plane, rows);
      std::memcpy(dst.v(l) + g * plane, src.v(l) + g * plane, rows);
    }
  dst.mutable_tokens().assign(src.tokens().begin(), src.tokens().begin() + n);
}

PrefixCachePool::Acquired PrefixCachePool::acquire(std::span<const int32_t> prompt) {
  std::lock_guard<std::mutex> lk(mu_);
  const int P = (int)prompt.size();
  ++stats_.lookups;
  stats_.prompt_tokens += (uint64_t)P;
  size_t best = kNone;
  int match = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const int m = entries_[i].cache->common_prefix(prompt);
    if (m > match || (m == match && m > 0 && entries_[i].used > entries_[best].used)) {
      best = i;
      match = m;
    }
  }
  const int reuse = std::min(match, P - 1);  // the last prompt token is always fed
  Acquired out;
  if (reuse <= 0) {
    out.cache = blank_locked(0);
    return out;
  }
  if (match == entries_[best].cache->size()) {
    // The whole cache is a prefix of the prompt: the conversation goes on in this cache.
    out.cache = std::move(entries_[best].cache);
    entries_.erase(entries_.begin() + (long)best);
    out.cache->truncate(reuse);
  } else {
    // The prompt leaves this cache's path: copy the shared rows, keep the branch pooled.
    entries_[best].used = ++tick_;
    std::unique_ptr<KVCache> src = std::move(entries_[best].cache);
    entries_.erase(entries_.begin() + (long)best);  // out of blank_locked()'s reach
    out.cache = blank_locked(1);
    copy_prefix(*out.cache, *src, reuse);
    entries_.push_back({std::move(src), tick_});
  }
  out.reused = reuse;
  ++stats_.hits;
  stats_.reused_tokens += (uint64_t)reuse;
  return out;
}

void PrefixCachePool::put(std::unique_ptr<KVCache> cache) {
  if (!cache) return;
  std::lock_guard<std::mutex> lk(mu_);
  if (slots_ == 0 || cache->capacity() != capacity_) return;  // freed here
  const uint64_t now = ++tick_;
  const std::vector<int32_t>& t = cache->tokens();
  if (!t.empty())
    for (Entry& e : entries_) {
      const int n = e.cache->size();
      if (n == 0) continue;
      const int m = e.cache->common_prefix(t);
      if (m == n) {
        e.cache->truncate(0);  // the returned cache contains this one
      } else if (m == (int)t.size()) {
        cache->truncate(0);  // this one contains the returned cache
        e.used = now;
        break;
      }
    }
  entries_.push_back({std::move(cache), now});
  while (entries_.size() > (size_t)slots_) {
    entries_.erase(entries_.begin() + (long)victim_locked());
    ++stats_.evictions;
  }
}

PrefixCacheStats PrefixCachePool::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  PrefixCacheStats s = stats_;
  s.pooled = entries_.size();
  return s;
}

std::vector<std::vector<int32_t>> PrefixCachePool::contents() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<const Entry*> order;
  for (const Entry& e : entries_) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(),
                   [](const Entry* a, const Entry* b) { return a->used > b->used; });
  std::vector<std::vector<int32_t>> out;
  for (const Entry* e : order) out.push_back(e->cache->tokens());
  return out;
}

}  // namespace lmforge
