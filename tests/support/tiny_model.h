// Shared fixtures of the tests that run a model (tests/infer, tests/eval, tests/serve, tests/cli):
// tiny GPT-2 and Llama configs over the checked-in tiny tokenizer's vocabulary, weights moved away
// from init_weights' special points (as the parity test does) so every parameter shapes the
// logits, and a model directory with that tokenizer copied in (tiny_model.cpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "lmforge/data/tokenizer.h"
#include "lmforge/model/transformer.h"

namespace lmforge::test {

// tests/data/fixtures/tiny_tokenizer: the tokenizer every tiny model here is built over.
std::filesystem::path tokenizer_dir();

// A 2-layer, 64-wide config of `arch` ("gpt2" or "llama": n_kv grouped heads, SwiGLU, no biases).
ModelConfig tiny_cfg(const std::string& arch, int V, int n_kv = 2, bool tied = true);

// Moves every weight away from init_weights' special points (std 0.1 matrices, biases ~0.1,
// norm gains ~1) so each parameter shapes the logits.
void perturb(Transformer& model, uint64_t seed);

Transformer make_model(const ModelConfig& cfg, uint64_t seed);

// A fresh model directory under the temp dir: the model's files plus the tiny tokenizer.
std::filesystem::path save_model_dir(const Transformer& m, const std::string& tag);

// A tiny random Llama over the tiny tokenizer's vocabulary saved as a model directory (what the
// tests of `lmforge serve` and `lmforge label` start the binary on).
std::filesystem::path tiny_llama_dir(uint64_t seed, const std::string& tag, int n_ctx = 64);

// max |a[i] - b[i]| over n floats (logits of two engines), in double.
inline double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, (double)std::fabs(a[i] - b[i]));
  return m;
}

}  // namespace lmforge::test
