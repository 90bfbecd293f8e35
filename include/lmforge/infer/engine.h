// Inference forward over a Transformer's parameters with a KV cache per sequence. One call to
// InferenceModel::forward() takes, for each of several sequences, a chunk of new tokens (a whole
// prompt when prefilling, one token when decoding), stacks all their rows into one (N, C)
// activation and runs every matmul once for the batch, so a decode step reads the weights once
// for all active sequences. Attention reads each sequence's own cache (kernels_infer.h).
// The model is borrowed (read-only): it must outlive the InferenceModel. Not thread-safe: one
// forward at a time (the server's scheduler thread owns it).
// Not here: sampling (sampler.h), text and stop handling (generate.h), training activations.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "lmforge/core/arena.h"
#include "lmforge/model/config.h"
#include "lmforge/model/transformer.h"

namespace lmforge {

// Keys and values of one sequence: k and v each (L, NKV, maxT, HS). tokens[i] is the token whose
// keys sit at position i, so a later prompt can reuse the longest common prefix.
class KVCache {
 public:
  KVCache() = default;
  KVCache(const ModelConfig& cfg, int max_tokens);
  int capacity() const { return max_t_; }
  int size() const { return (int)tokens_.size(); }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  // Forgets positions >= n (the values stay but are never read again).
  void truncate(int n);
  // Length of the common prefix of the cached tokens and `ids`.
  int common_prefix(std::span<const int32_t> ids) const;

  float* k(int layer) { return k_.get() + (size_t)layer * layer_stride_; }
  float* v(int layer) { return v_.get() + (size_t)layer * layer_stride_; }
  std::vector<int32_t>& mutable_tokens() { return tokens_; }

 private:
  int max_t_ = 0;
  size_t layer_stride_ = 0;
  AlignedFloats k_, v_;
  std::vector<int32_t> tokens_;
};

// One sequence's part of a forward call: the new tokens to append to its cache.
struct ForwardChunk {
  KVCache* cache;
  std::span<const int32_t> tokens;  // at least one; cache->size() + tokens.size() <= capacity
};

class InferenceModel {
 public:
  explicit InferenceModel(const Transformer& model);
  const ModelConfig& config() const { return cfg_; }

  // Appends each chunk's tokens to its cache and returns the logits (chunks.size(), V) of each
  // chunk's last token (or, with all_logits, (Σ tokens, V) for every row in order). The pointer
  // stays valid until the next call.
  const float* forward(std::span<const ForwardChunk> chunks, bool all_logits = false);

 private:
  struct Layer {
    const float *norm1_w, *norm1_b, *qkv_w, *qkv_b, *o_w, *o_b, *norm2_w, *norm2_b, *up_w, *up_b,
        *down_w, *down_b;
    const float *qkv_p = nullptr, *o_p = nullptr, *up_p = nullptr, *down_p = nullptr;  // packed
  };
  // A weight packed for cpu::linear_packed_forward (kept in packed_), or null where unavailable.
  const float* pack(const float* w, int IC, int OC);
  void ensure(int N, int R);

  ModelConfig cfg_;
  const float *wte_, *wpe_, *normf_w_, *normf_b_, *lm_head_, *lm_head_p_ = nullptr;
  // Packed copies of every matmul weight (a second copy of the model's matrices): batched steps
  // and prompts read these, single-row steps the originals.
  std::vector<AlignedFloats> packed_;
  std::vector<Layer> layers_;
  // Scratch for N rows (grown on demand): x, h (C); ln (C); qkv (QKV); att (A); fc (UP); act
  // (FF); mean/rstd (N); logits (R, V) for the R rows asked for.
  int rows_ = 0, logit_rows_ = 0;
  AlignedFloats x_, h_, ln_, qkv_, att_, fc_, act_, mean_, rstd_, last_, logits_;
  std::vector<int32_t> ids_, pos_;
  std::vector<const float*> kptr_, vptr_;
};

}  // namespace lmforge
