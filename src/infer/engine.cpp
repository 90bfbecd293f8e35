// The KV-cached inference forward: the training forward's list of kernel calls (model/
// transformer.cpp) on stacked rows of several sequences, with three differences: positions come
// from each sequence's cache length (GPT-2's table row / RoPE angle), keys and values are written
// into the caches, and attention reads the caches (attention_cached_forward). Nothing is kept
// for a backward. Parameters are read by their HF names; the packed layouts this relies on
// (q|k|v rows back to back as one (QKV, C) matrix, Llama's gate|up as (2FF, C), GPT-2 Conv1D
// weights already transposed to (out, in) on load) are the arena's, see Transformer.
#include "lmforge/infer/engine.h"

#include <algorithm>
#include <cstring>

#include "lmforge/backend/ops.h"
#include "lmforge/backend/bf16.h"
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
    : cfg_(model.config()), precision_(backend::precision()) {
  const ParamArena& a = model.params();
  auto opt = [&](const std::string& n) -> const float* { return a.has(n) ? a.get(n) : nullptr; };
  const bool llama = cfg_.is_llama();
  wte_ = a.get(llama ? "model.embed_tokens.weight" : "transformer.wte.weight");
  wpe_ = llama ? nullptr : a.get("transformer.wpe.weight");
  normf_w_ = a.get(llama ? "model.norm.weight" : "transformer.ln_f.weight");
  normf_b_ = llama ? nullptr : a.get("transformer.ln_f.bias");
  const float* lm_head = cfg_.tie_embeddings ? wte_ : a.get("lm_head.weight");
  for (int l = 0; l < cfg_.n_layer; ++l) {
    const std::string p = layer_prefix(cfg_, l);
    Layer L{};
    const float *qkv_w, *o_w, *up_w, *down_w;
    if (!llama) {
      L.norm1_w = a.get(p + "ln_1.weight");
      L.norm1_b = a.get(p + "ln_1.bias");
      qkv_w = a.get(p + "attn.c_attn.weight");
      L.qkv_b = a.get(p + "attn.c_attn.bias");
      o_w = a.get(p + "attn.c_proj.weight");
      L.o_b = a.get(p + "attn.c_proj.bias");
      L.norm2_w = a.get(p + "ln_2.weight");
      L.norm2_b = a.get(p + "ln_2.bias");
      up_w = a.get(p + "mlp.c_fc.weight");
      L.up_b = a.get(p + "mlp.c_fc.bias");
      down_w = a.get(p + "mlp.c_proj.weight");
      L.down_b = a.get(p + "mlp.c_proj.bias");
    } else {
      L.norm1_w = a.get(p + "input_layernorm.weight");
      qkv_w = a.get(p + "self_attn.q_proj.weight");  // first rows of the packed (QKV, C)
      L.qkv_b = opt(p + "self_attn.q_proj.bias");
      o_w = a.get(p + "self_attn.o_proj.weight");
      L.o_b = opt(p + "self_attn.o_proj.bias");
      L.norm2_w = a.get(p + "post_attention_layernorm.weight");
      up_w = a.get(p + "mlp.gate_proj.weight");  // first rows of the packed (2FF, C)
      L.up_b = opt(p + "mlp.gate_proj.bias");
      down_w = a.get(p + "mlp.down_proj.weight");
      L.down_b = opt(p + "mlp.down_proj.bias");
    }
    const int C = cfg_.n_embd, QKV = cfg_.qkv_dim(), A = cfg_.attn_dim(), FF = cfg_.ffn_hidden;
    L.qkv = prepare(qkv_w, C, QKV);
    L.o = prepare(o_w, A, C);
    L.up = prepare(up_w, C, llama ? 2 * FF : FF);
    L.down = prepare(down_w, FF, C);
    layers_.push_back(L);
  }
  lm_head_ = prepare(lm_head, cfg_.n_embd, cfg_.vocab_size);
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
void InferenceModel::linear(float* out, const float* inp, const Weight& w, const float* b, int N,
                            int IC, int OC) const {
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

void InferenceModel::ensure(int N, int R) {
  const size_t C = cfg_.n_embd, QKV = cfg_.qkv_dim(), A = cfg_.attn_dim(), FF = cfg_.ffn_hidden;
  const size_t UP = cfg_.is_llama() ? 2 * FF : FF;
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
  const int C = cfg_.n_embd, V = cfg_.vocab_size, FF = cfg_.ffn_hidden;
  const int NH = cfg_.n_head, NKV = cfg_.n_kv_head, HS = cfg_.head_dim;
  const int QKV = cfg_.qkv_dim(), A = cfg_.attn_dim();
  const bool llama = cfg_.is_llama();
  const float eps = cfg_.norm_eps;
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
  float *x = x_.get(), *h = h_.get(), *ln = ln_.get(), *qkv = qkv_.get(), *att = att_.get();
  float *fc = fc_.get(), *act = act_.get(), *mean = mean_.get(), *rstd = rstd_.get();

  ops::embedding_forward(x, ids_.data(), wte_, nullptr, 1, N, C);  // (N,C)
  if (wpe_)
    for (int r = 0; r < N; ++r) ops::add_inplace(x + (size_t)r * C, wpe_ + (size_t)pos_[r] * C, C);

  for (int l = 0; l < cfg_.n_layer; ++l) {
    const Layer& w = layers_[l];
    if (llama)
      ops::rmsnorm_forward(ln, rstd, x, w.norm1_w, N, C, eps);  // (N,C)
    else
      ops::layernorm_forward(ln, mean, rstd, x, w.norm1_w, w.norm1_b, N, C, eps);
    linear(qkv, ln, w.qkv, w.qkv_b, N, C, QKV);  // (N,QKV)
    // Per chunk: RoPE at the chunk's offset, then its k and v rows into the cache.
    kptr_.assign(N, nullptr);
    vptr_.assign(N, nullptr);
    int row = 0;
    for (const ForwardChunk& c : chunks) {
      const int n = (int)c.tokens.size(), p0 = c.cache->size();
      float* q0 = qkv + (size_t)row * QKV;
      if (llama) ops::rope_forward(q0, 1, n, NH, NKV, HS, cfg_.rope_theta, p0);
      float *kc = c.cache->k(l), *vc = c.cache->v(l);
      const int maxT = c.cache->capacity();
      for (int t = 0; t < n; ++t) {
        const float* src = q0 + (size_t)t * QKV;
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
    ops::attention_cached_forward(att, qkv, QKV, kptr_.data(), vptr_.data(), pos_.data(), N, NH,
                                  NKV, HS, chunks[0].cache->capacity());  // (N,A)
    linear(h, att, w.o, w.o_b, N, A, C);                         // (N,C)
    ops::add_inplace(h, x, (size_t)N * C);                                // residual
    if (llama)
      ops::rmsnorm_forward(ln, rstd, h, w.norm2_w, N, C, eps);
    else
      ops::layernorm_forward(ln, mean, rstd, h, w.norm2_w, w.norm2_b, N, C, eps);
    if (llama) {
      linear(fc, ln, w.up, w.up_b, N, C, 2 * FF);  // (N,2FF) [gate|up]
      ops::swiglu_forward(act, fc, N, FF);           // (N,FF)
    } else {
      linear(fc, ln, w.up, w.up_b, N, C, FF);  // (N,FF)
      ops::gelu_forward(act, fc, (size_t)N * FF);
    }
    linear(x, act, w.down, w.down_b, N, FF, C);  // (N,C) next residual stream
    ops::add_inplace(x, h, (size_t)N * C);
  }
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
  if (llama)
    ops::rmsnorm_forward(ln, rstd, fin, normf_w_, R, C, eps);
  else
    ops::layernorm_forward(ln, mean, rstd, fin, normf_w_, normf_b_, R, C, eps);
  linear(logits_.get(), ln, lm_head_, nullptr, R, C, V);  // (R,V)
  return logits_.get();
}

}  // namespace lmforge
