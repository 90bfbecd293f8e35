// Deterministic random numbers owned by lmforge (never std::normal_distribution, whose output
// differs between standard libraries): a SplitMix64 counter generator, uniform floats from its
// top 24/53 bits, and normals by Box-Muller. The whole state is one uint64, so checkpoints save
// and restore it exactly. Not cryptographic and not meant to match PyTorch's streams.
#pragma once
#include <cmath>
#include <cstdint>
#include <string_view>

namespace lmforge {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}

  uint64_t next_u64() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double uniform() { return double(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  // Uniform integer in [0, n) (n > 0); the modulo bias is below 2^-32 for n < 2^32.
  uint64_t below(uint64_t n) { return next_u64() % n; }
  // Standard normal by Box-Muller (one value per two uniforms; no cached spare, so the state
  // stays a single integer).
  double normal() {
    double u1 = 1.0 - uniform();  // (0, 1], keeps log finite
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  uint64_t state_;
};

// Mixes a seed with a name (FNV-1a of the name, then SplitMix) to give each tensor its own
// stream: adding a tensor never changes another tensor's initial values.
inline uint64_t seed_for(uint64_t seed, std::string_view name) {
  uint64_t h = 1469598103934665603ull;
  for (char c : name) h = (h ^ uint8_t(c)) * 1099511628211ull;
  Rng r(seed ^ h);
  return r.next_u64();
}

}  // namespace lmforge
