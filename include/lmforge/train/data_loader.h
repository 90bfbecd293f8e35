// Deterministic training batches of (B, T+1) token windows (inputs = first T, targets = last T).
// Choice: epoch-shuffled, non-overlapping windows. The token stream is cut into W = (N-1)/T
// windows of T+1 tokens (stride T, so each token is a target once per epoch); every epoch shifts
// the cut by a seeded offset inside the leftover tokens and visits the windows in a seeded
// pseudo-random order. The order is a keyed bijection (Feistel network with cycle walking), so
// window k of epoch e is a pure function of (seed, e, k): the loader's whole state is one integer,
// the number of windows consumed, and resuming from it is exact. Memory is O(1) for any corpus.
// Not here: document-aware packing or masking (pretraining streams concatenated documents
// separated by <|endoftext|>). Multi-rank sharding lives in the trainer (LanguageModelObjective
// reads the whole global micro-batch and keeps its slice), so the loader knows nothing of ranks.
#pragma once
#include <cstdint>
#include <functional>

namespace lmforge {

// Reads tokens [pos, pos + n) into out.
using TokenReader = std::function<void(int64_t pos, int64_t n, int32_t* out)>;

class DataLoader {
 public:
  // Throws UsageError when num_tokens < T + 1 (not even one window).
  DataLoader(TokenReader reader, int64_t num_tokens, int T, uint64_t seed);

  // Writes the next B windows into tokens (B, T+1) and advances position() by B.
  void next_batch(int B, int32_t* tokens);

  // Start token of the window at global sample index `index` (epoch = index / windows_per_epoch).
  int64_t window_start(int64_t index) const;

  int64_t position() const { return position_; }
  void set_position(int64_t position) { position_ = position; }
  int64_t windows_per_epoch() const { return windows_; }
  double epoch() const { return static_cast<double>(position_) / static_cast<double>(windows_); }

 private:
  TokenReader reader_;
  int64_t num_tokens_, windows_, slack_;
  int T_;
  uint64_t seed_;
  int64_t position_ = 0;
};

// splitmix64: a tiny, well-mixed, platform-independent hash/RNG step (std:: distributions are
// not specified bit-for-bit across standard libraries, so we do not use them where runs must
// reproduce).
uint64_t splitmix64(uint64_t x);

}  // namespace lmforge
