// Epoch-shuffled window sampler (see data_loader.h for the design and why it resumes exactly).
#include "lmforge/train/data_loader.h"

#include <string>

#include "lmforge/core/error.h"

namespace lmforge {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

namespace {

// A keyed bijection on [0, n): a balanced Feistel network on the smallest even bit width with
// 2^bits >= n, iterated (cycle walking) until the value falls back into [0, n). Because the
// domain is at most 4n, the expected number of walks is below 4.
uint64_t permute(uint64_t i, uint64_t n, uint64_t key) {
  if (n <= 1) return 0;
  int bits = 2;
  while ((uint64_t{1} << bits) < n) bits += 2;
  const int half = bits / 2;
  const uint64_t mask = (uint64_t{1} << half) - 1;
  uint64_t x = i;
  do {
    uint64_t l = x >> half, r = x & mask;
    for (uint64_t round = 0; round < 4; ++round) {
      uint64_t f = splitmix64(key ^ (round * 0x632be59bd9b4e019ULL) ^ r) & mask;
      uint64_t nl = r;
      r = l ^ f;
      l = nl;
    }
    x = (l << half) | r;
  } while (x >= n);
  return x;
}

}  // namespace

DataLoader::DataLoader(TokenReader reader, int64_t num_tokens, int T, uint64_t seed)
    : reader_(std::move(reader)), num_tokens_(num_tokens), T_(T), seed_(seed) {
  if (T < 1) throw UsageError("sequence length must be at least 1");
  if (num_tokens < T + 1)
    throw UsageError("the training split holds " + std::to_string(num_tokens) +
                     " tokens, fewer than one window of --seq-len + 1 = " + std::to_string(T + 1) +
                     " (hint: prepare more text or lower --seq-len)");
  windows_ = (num_tokens - 1) / T;
  slack_ = num_tokens - 1 - windows_ * T;
}

int64_t DataLoader::window_start(int64_t index) const {
  const uint64_t epoch = static_cast<uint64_t>(index / windows_);
  const uint64_t k = static_cast<uint64_t>(index % windows_);
  const uint64_t key = splitmix64(seed_ ^ splitmix64(epoch + 1));
  const int64_t shift = static_cast<int64_t>(splitmix64(key) % static_cast<uint64_t>(slack_ + 1));
  return shift + static_cast<int64_t>(permute(k, static_cast<uint64_t>(windows_), key)) * T_;
}

void DataLoader::next_batch(int B, int32_t* tokens) {
  for (int b = 0; b < B; ++b) {
    reader_(window_start(position_), T_ + 1, tokens + static_cast<size_t>(b) * (T_ + 1));
    ++position_;
  }
}

}  // namespace lmforge
