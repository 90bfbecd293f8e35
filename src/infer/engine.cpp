// The KV-cached inference forward: the one forward of model/block.h (the same kernel calls as
// training) on stacked rows of several sequences, with three differences supplied here as its
// ForwardRunner: positions come from each sequence's cache length (GPT-2's table row / RoPE
// angle), keys and values are written into the caches and attention reads them
// (attention_cached_forward), and each matmul reads the copy of its weight that suits the row
// count and precision. One set of activation buffers serves every layer; nothing is kept for a
// backward.
#include "lmforge/infer/engine.h"

#include <algorithm>
#include <cstring>

#include "lmforge/backend/bf16.h"
#include "lmforge/backend/ops.h"
#include "lmforge/core/error.h"

namespace lmforge {
namespace {
// Rows up to which a step takes the few-row kernel (see InferenceModel::linear).
constexpr int kRowsGemv = 16;

}  // namespace

KVCache::KVCache(const ModelConfig& cfg, int max_tokens) : max_t_(max_tokens) {
  check(max_tokens > 0 && max_tokens <= cfg.n_ctx, "kv_cache",
        "capacity " + std::to_string(max_tokens) + " outside 1.." + std::to_string(cfg.n_ctx));
  layer_stride_ = (size_t)cfg.n_kv_head * max_tokens * cfg.head_dim;
  k_ = alloc_aligned_floats(layer_stride_ * cfg.n_layer);
  v_ = alloc_aligned_floats(layer_stride_ * cfg.n_layer);
}

void KVCache::truncate(int n) {
  if (n < size()) tokens_.resize(std::max(n, 0));
}

int KVCache::common_prefix(std::span<const int32_t> ids) const {
  size_t n = 0;
  while (n < tokens_.size() && n < ids.size() && tokens_[n] == ids[n]) ++n;
  return (int)n;
}

InferenceModel::InferenceModel(const Transformer& model)
    : cfg_(model.config()),
      precision_(backend::precision()),
      p_(resolve_params(model.params(), model.config())),
      lora_(model.lora()) {
  const int C = cfg_.n_embd, QKV = cfg_.qkv_dim(), A = cfg_.attn_dim(), FF = cfg_.ffn_hidden;
  const int UP = cfg_.features().up_factor() * FF;
  for (const BlockParams& w : p_.layers)
    layers_.push_back({prepare(w.qkv_w, C, QKV), prepare(w.o_w, A, C), prepare(w.up_w, C, UP),
                       prepare(w.down_w, FF, C)});
  lm_head_ = prepare(p_.lm_head, C, cfg_.vocab_size);
}

InferenceModel::Weight InferenceModel::prepare(const float* w, int IC, int OC) {
  Weight out{w, nullptr, nullptr};
  if (precision_ == backend::Precision::bf16) {
    bf16_.emplace_back(size_t(IC) * OC);
    cpu::convert_to_bf16(bf16_.back().data(), w, size_t(IC) * OC);
    out.bf16 = bf16_.back().data();
  } else if (ops::packed_linear_available()) {
    packed_.push_back(alloc_aligned_floats(ops::packed_weight_floats(IC, OC)));
    ops::pack_weight(packed_.back().get(), w, IC, OC);
    out.packed = packed_.back().get();
  }
  return out;
}

// Which matmul a step's rows take. fp32: one row (a single stream's decode step) streams the
// weights with the few-row kernel: memory-bound, at the bandwidth bound. More rows take the
// weights packed once at load, so no step repacks them: bench/infer_bench ("small", 2 threads),
// 8 batched streams ~1,100 -> ~1,400 tok/s against the few-row kernel, and prompts +30% against
// the GEMM that packs on every call. Without packed weights (no AVX2), up to kRowsGemv rows take
// the few-row kernel, where the per-call packing of the GEMM costs more than the rows' arithmetic
// (8 streams: 795 tok/s with the GEMM, ~1,500 with the few-row kernel; equal at 16 rows).
// bf16: up to kRowsGemv rows read the bf16 copy with the few-row bf16 kernel (half the bytes of
// fp32), more rows (prompts) take the bf16 GEMM; both round the activations and the weights to
// bf16 and accumulate in fp32, as training at --precision bf16 does.
void InferenceModel::linear(float* out, const float* inp, const float*, const float* b, int N,
                            int IC, int OC, int layer, LinearSite site) {
  const Weight& w = site == LinearSite::kHead  ? lm_head_
                    : site == LinearSite::kQKV ? layers_[layer].qkv
                    : site == LinearSite::kO   ? layers_[layer].o
                    : site == LinearSite::kUp  ? layers_[layer].up
                                               : layers_[layer].down;
  if (w.bf16 && N <= kRowsGemv)
    ops::linear_rows_forward_bf16(out, inp, w.bf16, b, N, IC, OC);
  else if (w.bf16)
    ops::linear_forward(out, inp, w.w, b, N, IC, OC);  // the bf16 GEMM (process precision)
  else if (N == 1 || (N <= kRowsGemv && !w.packed))
    ops::linear_rows_forward(out, inp, w.w, b, N, IC, OC);
  else if (w.packed)
    ops::linear_packed_forward(out, inp, w.packed, b, N, IC, OC);
  else
    ops::linear_forward(out, inp, w.w, b, N, IC, OC);
}

// Each chunk's k and v rows (positions already applied) go into its cache at cache.size() + t;
// then every row's query attends to its own sequence's cache up to its position.
void InferenceModel::attend(float* att, float*, const float* qkv, const ForwardRows& r, int layer) {
  const int NH = cfg_.n_head, NKV = cfg_.n_kv_head, HS = cfg_.head_dim, QKV = cfg_.qkv_dim();
  const int N = r.N();
  kptr_.assign(N, nullptr);
  vptr_.assign(N, nullptr);
  int row = 0;
  for (const ForwardChunk& c : chunks_) {
    const int n = (int)c.tokens.size(), p0 = c.cache->size();
    float *kc = c.cache->k(layer), *vc = c.cache->v(layer);
    const int maxT = c.cache->capacity();
    for (int t = 0; t < n; ++t) {
      const float* src = qkv + (size_t)(row + t) * QKV;
      for (int g = 0; g < NKV; ++g) {
        const size_t dst = ((size_t)g * maxT + p0 + t) * HS;
        std::memcpy(kc + dst, src + (size_t)(NH + g) * HS, HS * sizeof(float));
        std::memcpy(vc + dst, src + (size_t)(NH + NKV + g) * HS, HS * sizeof(float));
      }
      kptr_[row + t] = kc;
      vptr_[row + t] = vc;
    }
    row += n;
  }
  ops::attention_cached_forward(att, qkv, QKV, kptr_.data(), vptr_.data(), r.pos, N, NH, NKV, HS,
                                chunks_[0].cache->capacity());  // (N,A)
}

void InferenceModel::ensure(int N, int R) {
  const size_t C = cfg_.n_embd, QKV = cfg_.qkv_dim(), A = cfg_.attn_dim(), FF = cfg_.ffn_hidden;
  const size_t UP = cfg_.features().up_factor() * FF;
  if (N > rows_) {
    rows_ = N;
    x_ = alloc_aligned_floats(N * C);
    h_ = alloc_aligned_floats(N * C);
    ln_ = alloc_aligned_floats(N * C);
    qkv_ = alloc_aligned_floats(N * QKV);
    att_ = alloc_aligned_floats(N * A);
    fc_ = alloc_aligned_floats(N * UP);
    act_ = alloc_aligned_floats(N * FF);
    mean_ = alloc_aligned_floats(N);
    rstd_ = alloc_aligned_floats(N);
  }
  if (R > logit_rows_) {
    logit_rows_ = R;
    last_ = alloc_aligned_floats((size_t)R * C);
    logits_ = alloc_aligned_floats((size_t)R * cfg_.vocab_size);
  }
}

const float* InferenceModel::forward(std::span<const ForwardChunk> chunks, bool all_logits) {
  const int C = cfg_.n_embd, V = cfg_.vocab_size;
  check(!chunks.empty(), "infer", "forward with no sequences");
  // Rows: each chunk's tokens in order, at positions cache.size() + t.
  ids_.clear();
  pos_.clear();
  for (const ForwardChunk& c : chunks) {
    check(!c.tokens.empty(), "infer", "a chunk needs at least one token");
    check(c.cache->capacity() == chunks[0].cache->capacity(), "infer",
          "the caches of one forward call must share one capacity");
    check(c.cache->size() + (int)c.tokens.size() <= c.cache->capacity(), "infer",
          "sequence of " + std::to_string(c.cache->size() + c.tokens.size()) +
              " tokens exceeds its cache of " + std::to_string(c.cache->capacity()));
    for (size_t t = 0; t < c.tokens.size(); ++t) {
      check(c.tokens[t] >= 0 && c.tokens[t] < V, "infer",
            "token id " + std::to_string(c.tokens[t]) + " outside the vocabulary [0, " +
                std::to_string(V) + ")");
      ids_.push_back(c.tokens[t]);
      pos_.push_back(c.cache->size() + (int)t);
    }
  }
  const int N = (int)ids_.size();
  const int R = all_logits ? N : (int)chunks.size();
  ensure(N, R);
  float* x = x_.get();
  // One set of activations for every layer; the two norms share ln/mean/rstd.
  const BlockActs acts{ln_.get(), mean_.get(), rstd_.get(), qkv_.get(),  att_.get(), nullptr,
                       h_.get(),  ln_.get(),   mean_.get(), rstd_.get(), fc_.get(),  act_.get()};
  const ForwardRows rows{ids_.data(), pos_.data(), 1, N};
  chunks_ = chunks;
  embed_forward(cfg_, p_, x, rows);  // (N,C)
  for (int l = 0; l < cfg_.n_layer; ++l)
    block_forward(cfg_, p_.layers[l], lora_, l, x, x, acts, rows, *this);  // x: next residual
  chunks_ = {};
  for (const ForwardChunk& c : chunks) {
    auto& toks = c.cache->mutable_tokens();
    toks.insert(toks.end(), c.tokens.begin(), c.tokens.end());
  }
  // Only the rows whose logits are wanted go through the final norm and the (V, C) head, which
  // for a small model is the largest matmul of all.
  const float* fin = x;
  if (!all_logits) {
    int r = 0, last = -1;
    for (const ForwardChunk& c : chunks) {
      last += (int)c.tokens.size();
      std::memcpy(last_.get() + (size_t)r++ * C, x + (size_t)last * C, C * sizeof(float));
    }
    fin = last_.get();
  }
  final_norm_forward(cfg_, p_, ln_.get(), mean_.get(), rstd_.get(), fin, R);
  linear(logits_.get(), ln_.get(), p_.lm_head, nullptr, R, C, V, -1, LinearSite::kHead);  // (R,V)
  return logits_.get();
}

}  // namespace lmforge
