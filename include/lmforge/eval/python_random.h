// CPython's `random.Random(seed).sample(population, k)` reproduced: the Mersenne Twister seeded
// by init_by_array with the seed's 32-bit words (what random.seed does for an int), _randbelow by
// rejection on getrandbits, and sample()'s two strategies (a pool for small populations, a set of
// selected indices otherwise). lm-evaluation-harness draws few-shot examples with exactly this
// (rnd = random.Random(fewshot_random_seed); rnd.sample(docs, k)), so lmforge picks the same
// examples for the same seed and the same pool. Not here: floats, shuffle, other distributions.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmforge {

class PythonRandom {
 public:
  explicit PythonRandom(uint64_t seed);
  uint32_t next_u32();             // genrand_uint32
  uint32_t getrandbits(int k);     // 1 <= k <= 32
  uint64_t randbelow(uint64_t n);  // uniform in [0, n), n < 2^32
  // Indices of random.sample(range(n), k), in order.
  std::vector<size_t> sample(size_t n, size_t k);

 private:
  std::array<uint32_t, 624> mt_{};
  int i_ = 624;
};

}  // namespace lmforge
