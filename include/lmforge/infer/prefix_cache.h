// A bounded pool of KV caches kept after their requests finished, so that a later request whose
// prompt starts with the same tokens (the next turn of a conversation, which re-sends the whole
// history; a second request with the same system prompt) skips recomputing that prefix.
// Notable choices:
// - Every cache the pool hands out has one capacity (the server's context): a batched forward
//   needs its caches to share one (engine.h), and any cache can then serve any prompt.
// - acquire() picks the pooled cache with the longest common prefix with the prompt (ties: the
//   most recently used). When the whole cache is a prefix of the prompt (a conversation going on)
//   it is taken out and extended in place; when the prompt diverges inside it, only the shared
//   rows are copied into another cache, so the pooled branch stays for whoever continues it.
// - At most `slots` caches are pooled; beyond that the least recently used is freed (blank
//   caches first). A cache that another pooled cache already contains adds nothing and is kept
//   only as blank memory. slots == 0 disables reuse: every cache is fresh and freed after use.
// - The pool never lets a prompt reuse all of itself: at least its last token is recomputed, so
//   the forward yields the logits of the first new token.
// Thread-safe (one mutex); the scheduler thread is its only user in the server.
// Not here: which requests run (scheduler.h), sharing a cache between running sequences.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "lmforge/infer/engine.h"
#include "lmforge/model/config.h"

namespace lmforge {

struct PrefixCacheStats {
  int slots = 0;               // pooled caches at most
  size_t pooled = 0;           // caches in the pool now (blank ones included)
  size_t bytes_per_cache = 0;  // L·2·NKV·capacity·HS floats
  uint64_t lookups = 0;        // acquire() calls
  uint64_t hits = 0;           // ... that reused at least one token
  uint64_t reused_tokens = 0;  // prompt tokens not recomputed, summed over lookups
  uint64_t prompt_tokens = 0;  // prompt tokens asked for, summed over lookups
  uint64_t allocations = 0;    // caches allocated (not recycled)
  uint64_t evictions = 0;      // pooled caches freed to stay within `slots`
};

// Bytes of one KV cache of `capacity` positions: L·2·NKV·capacity·HS floats.
size_t kv_cache_bytes(const ModelConfig& cfg, int capacity);

class PrefixCachePool {
 public:
  // capacity: positions of every cache (1..n_ctx); slots: pooled caches at most (0: no reuse).
  PrefixCachePool(const ModelConfig& cfg, int capacity, int slots);

  int capacity() const { return capacity_; }
  int slots() const { return slots_; }
  size_t bytes_per_cache() const { return bytes_per_cache_; }

  struct Acquired {
    std::unique_ptr<KVCache> cache;  // holds exactly prompt[0, reused); capacity() positions
    int reused = 0;                  // <= prompt.size() - 1
  };
  // A cache for a sequence with this prompt: the best pooled prefix (see the file comment), else
  // a blank cache (recycled from the pool when it is full, otherwise newly allocated).
  Acquired acquire(std::span<const int32_t> prompt);
  // Gives a cache back after its sequence ended (its tokens() say what its rows hold). A cache of
  // another capacity is freed. With slots == 0 every cache is freed.
  void put(std::unique_ptr<KVCache> cache);

  PrefixCacheStats stats() const;
  // The token lists of the pooled caches, most recently used first (blank ones as empty lists).
  std::vector<std::vector<int32_t>> contents() const;

 private:
  struct Entry {
    std::unique_ptr<KVCache> cache;
    uint64_t used = 0;  // tick of the last put or acquire that touched it
  };
  // A recycled or new empty cache; held_out: pooled entries taken out for the moment.
  std::unique_ptr<KVCache> blank_locked(size_t held_out);
  size_t victim_locked() const;  // a blank entry, else the least recently used
  void copy_prefix(KVCache& dst, KVCache& src, int n) const;

  ModelConfig cfg_;
  int capacity_, slots_;
  size_t bytes_per_cache_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  uint64_t tick_ = 0;
  PrefixCacheStats stats_;
};

}  // namespace lmforge
