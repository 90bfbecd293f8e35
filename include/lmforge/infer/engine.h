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

#include "lmforge/backend/bf16.h"
#include "lmforge/backend/isa.h"
#include "lmforge/core/arena.h"
#include "lmforge/model/block.h"
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

// The inference side of the one forward (model/block.h): it supplies the matmul kernel for each
// weight (packed, bf16 or few-row copies prepared at load) and the cached attention. LoRA
// adapters attached to the model are applied unmerged, as in training.
class InferenceModel : private ForwardRunner {
 public:
  explicit InferenceModel(const Transformer& model);
  const ModelConfig& config() const { return cfg_; }

  // Appends each chunk's tokens to its cache and returns the logits (chunks.size(), V) of each
  // chunk's last token (or, with all_logits, (Σ tokens, V) for every row in order). The pointer
  // stays valid until the next call.
  const float* forward(std::span<const ForwardChunk> chunks, bool all_logits = false);

 private:
  // A matmul weight (OC, IC) as the model holds it, and the copies a step may read instead:
  // packed for the fp32 GEMM (fp32 precision), or rounded to bf16 (bf16 precision).
  struct Weight {
    const float* w = nullptr;
    const float* packed = nullptr;
    const bf16_t* bf16 = nullptr;
  };
  struct Layer {
    Weight qkv, o, up, down;
  };
  // The copies of w this precision reads (packed_ or bf16_ keeps them).
  Weight prepare(const float* w, int IC, int OC);
  // ForwardRunner: the kernel for this weight and row count; attention through the caches.
  void linear(float* out, const float* inp, const float* w, const float* b, int N, int IC, int OC,
              int layer, LinearSite site) override;
  void attend(float* att, float* lse, const float* qkv, const ForwardRows& rows,
              int layer) override;
  void ensure(int N, int R);

  ModelConfig cfg_;
  backend::Precision precision_;  // the process's precision when the model was loaded
  ModelParams p_;
  const LoraAdapters* lora_;  // the model's adapters (null: none), applied unmerged
  Weight lm_head_;
  // fp32: packed copies of every matmul weight (a second copy of the model's matrices): batched
  // steps and prompts read these, single-row steps the originals. bf16: bf16 copies (half the
  // bytes) that decode steps read; prompts take the bf16 GEMM on the originals.
  std::vector<AlignedFloats> packed_;
  std::vector<std::vector<bf16_t>> bf16_;
  std::vector<Layer> layers_;
  // Scratch for N rows (grown on demand): x, h (C); ln (C); qkv (QKV); att (A); fc (UP); act
  // (FF); mean/rstd (N); logits (R, V) for the R rows asked for.
  int rows_ = 0, logit_rows_ = 0;
  AlignedFloats x_, h_, ln_, qkv_, att_, fc_, act_, mean_, rstd_, last_, logits_;
  std::vector<int32_t> ids_, pos_;
  std::vector<const float*> kptr_, vptr_;
  std::span<const ForwardChunk> chunks_;  // the chunks of the forward call in progress
};

}  // namespace lmforge
