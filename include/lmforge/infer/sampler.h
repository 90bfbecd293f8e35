// Next-token sampling from logits: repetition penalty, temperature, top-k, top-p (nucleus) and
// min-p filters, then a draw from lmforge's own Rng, so a seed reproduces the same tokens on every
// machine. Temperature 0 is greedy: the argmax (lowest id on ties), no randomness at all.
// Order (as llama.cpp and HF): penalty → top-k → softmax at temperature → top-p → min-p → draw.
// Not here: logit processors beyond these, beam search, stop handling (generate.h).
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "lmforge/core/rng.h"

namespace lmforge {

struct SamplingParams {
  float temperature = 1.0f;         // 0: greedy
  int top_k = 0;                    // 0: off
  float top_p = 1.0f;               // 1: off
  float min_p = 0.0f;               // 0: off; keeps tokens with p >= min_p · p_max
  float repetition_penalty = 1.0f;  // 1: off; CTRL-style: logit/θ if > 0 else logit·θ
  uint64_t seed = 0;
  void validate() const;  // UsageError naming the bad value
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) { p.validate(); }
  // Picks the next token from logits (V). `history` (prompt + generated) feeds the repetition
  // penalty. The logits are not modified.
  int32_t sample(const float* logits, int V, std::span<const int32_t> history);
  const SamplingParams& params() const { return p_; }

 private:
  SamplingParams p_;
  Rng rng_;
  std::vector<float> work_;
  std::vector<std::pair<float, int32_t>> cand_;
};

// log softmax(logits)[id], computed in double (the model's own distribution, before any sampling
// filter: what OpenAI's `logprobs` report).
double token_logprob(const float* logits, int V, int32_t id);
// The k most likely tokens with their log-probabilities, most likely first (ties: lower id first).
std::vector<std::pair<int32_t, double>> top_logprobs(const float* logits, int V, int k);
// softmax(logits) in double.
std::vector<double> softmax(const float* logits, int V);

}  // namespace lmforge
