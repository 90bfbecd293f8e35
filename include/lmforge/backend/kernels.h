// The kernel contract: every op as a forward/backward pair with explicit shapes, in two
// backends with identical names and argument order:
//   lmforge::ref  double precision, naive loops: the oracle, never optimized (src/backend/ref/)
//   lmforge::cpu  float, OpenMP + BLAS + AVX2/AVX-512 micro-kernels (src/backend/cpu/)
// (a CUDA backend will add lmforge::cuda with the same names). Shapes use the names in
// docs/SHAPES.md: B batch, T time, C channels, NH query heads, NKV key/value heads, HS head size,
// QKV = (NH + 2*NKV)*HS, FF feed-forward width, V vocabulary, N = B*T rows.
// Gradient convention (as llm.c): parameter gradients accumulate (+=); activation gradients are
// overwritten (=), except the norms' dinp, which accumulates because a norm's input is always the
// residual stream. All buffers are dense row-major.
// Packed rows (several documents in one row of T tokens): embedding, rope and attention take a
// trailing `pos` (B,T), each token's position within its document; a document starts where
// pos == 0 and continues with pos+1 (so pos[b,t] <= t). pos == nullptr means one document per
// row, pos[b,t] = t (pos0 + t for rope), and costs nothing extra. See docs/KERNELS.md.
#pragma once
#include <cstddef>
#include <cstdint>

#include "lmforge/backend/isa.h"

#define LMFORGE_KERNELS(REAL)                                                                        \
  /* out (B,T,C) = wte[ids] (+ wpe[p] when wpe != nullptr, p = pos[b,t], or t when pos is null).     \
     wte (V,C), wpe (maxT,C); pos values must lie in [0, maxT) (cpu throws on pos < 0). */           \
  void embedding_forward(REAL* out, const int32_t* ids, const REAL* wte, const REAL* wpe, int B,     \
                         int T, int C, const int32_t* pos = nullptr);                                \
  /* dwte += scatter of dout by ids; dwpe[p] += dout[b,t] with p as in the forward (skipped when     \
     dwpe == nullptr). */                                                                            \
  void embedding_backward(REAL* dwte, REAL* dwpe, const REAL* dout, const int32_t* ids, int B,       \
                          int T, int C, const int32_t* pos = nullptr);                               \
                                                                                                     \
  /* out (N,OC) = inp (N,IC) · weightᵀ + bias; weight (OC,IC) as nn.Linear; bias may be null. */  \
  void linear_forward(REAL* out, const REAL* inp, const REAL* weight, const REAL* bias, int N,       \
                      int IC, int OC);                                                               \
  /* dinp (N,IC) = dout·weight (skipped when null); dweight += doutᵀ·inp; dbias += Σ_n dout. */ \
  void linear_backward(REAL* dinp, REAL* dweight, REAL* dbias, const REAL* dout, const REAL* inp,    \
                       const REAL* weight, int N, int IC, int OC);                                   \
                                                                                                     \
  /* out = (x-mean)·rstd·weight + bias over C; saves mean (N), rstd (N). */                        \
  void layernorm_forward(REAL* out, REAL* mean, REAL* rstd, const REAL* inp, const REAL* weight,     \
                         const REAL* bias, int N, int C, REAL eps);                                  \
  /* dinp += ..., dweight += ..., dbias += ... */                                                    \
  void layernorm_backward(REAL* dinp, REAL* dweight, REAL* dbias, const REAL* dout,                  \
                          const REAL* inp, const REAL* weight, const REAL* mean, const REAL* rstd,   \
                          int N, int C);                                                             \
  /* out = x·rstd·weight, rstd = 1/sqrt(mean(x²)+eps); saves rstd (N). */                         \
  void rmsnorm_forward(REAL* out, REAL* rstd, const REAL* inp, const REAL* weight, int N, int C,     \
                       REAL eps);                                                                    \
  /* dinp += ..., dweight += ... */                                                                  \
  void rmsnorm_backward(REAL* dinp, REAL* dweight, const REAL* dout, const REAL* inp,                \
                        const REAL* weight, const REAL* rstd, int N, int C);                         \
                                                                                                     \
  /* RoPE in place on the q and k heads of qkv (B,T,QKV), HF "rotate half" layout: for pair          \
     (i, i+HS/2), angle = p·theta^(-2i/HS) with p = pos[b,t] when pos != nullptr (pos0 is then      \
     ignored; any integer p is accepted), else p = pos0+t. v heads are untouched. */                 \
  void rope_forward(REAL* qkv, int B, int T, int NH, int NKV, int HS, REAL theta, int pos0,          \
                    const int32_t* pos = nullptr);                                                   \
  /* In place on dqkv: the inverse rotation of the q and k parts. */                                 \
  void rope_backward(REAL* dqkv, int B, int T, int NH, int NKV, int HS, REAL theta, int pos0,        \
                     const int32_t* pos = nullptr);                                                  \
                                                                                                     \
  /* Per-head RMSNorm of q and k (Qwen3's q_norm / k_norm), in place on the q and k heads of qkv     \
     (N,QKV): each head x (HS) becomes x·rstd·w, rstd = 1/sqrt(mean(x²)+eps), w = q_weight (HS)   \
     for the NH q heads and k_weight (HS) for the NKV k heads; v heads are untouched. Saves the      \
     input heads in qk_inp (N,(NH+NKV)·HS) and rstd (N,NH+NKV) unless they are null (inference).    \
   */                                                                                                \
  void qk_norm_forward(REAL* qkv, REAL* qk_inp, REAL* rstd, const REAL* q_weight,                    \
                       const REAL* k_weight, int N, int NH, int NKV, int HS, REAL eps);              \
  /* In place on dqkv: the gradient of the normalized q and k heads becomes that of their inputs     \
     (=); dq_weight, dk_weight += ... (skipped when null: frozen); v part untouched. */              \
  void qk_norm_backward(REAL* dqkv, REAL* dq_weight, REAL* dk_weight, const REAL* qk_inp,            \
                        const REAL* q_weight, const REAL* k_weight, const REAL* rstd, int N,         \
                        int NH, int NKV, int HS);                                                    \
                                                                                                     \
  /* Causal self-attention with grouped-query heads (query head h reads kv head h/(NH/NKV)),         \
     scale 1/sqrt(HS). qkv (B,T,QKV) rows [q heads | k heads | v heads]; out (B,T,NH·HS);           \
     lse (B,NH,T) = log-sum-exp of each score row, saved for backward (no T×T kept).                \
     With pos (B,T), query t attends keys s with t - pos[b,t] <= s <= t (its own document); pos      \
     must be document-shaped: pos[b,t] == 0 or pos[b,t] == pos[b,t-1] + 1 (cpu throws else). */      \
  void attention_forward(REAL* out, REAL* lse, const REAL* qkv, int B, int T, int NH, int NKV,       \
                         int HS, const int32_t* pos = nullptr);                                      \
  /* dqkv (B,T,QKV) overwritten; recomputes scores blockwise from qkv and lse. pos as forward. */    \
  void attention_backward(REAL* dqkv, const REAL* dout, const REAL* qkv, const REAL* out,            \
                          const REAL* lse, int B, int T, int NH, int NKV, int HS,                    \
                          const int32_t* pos = nullptr);                                             \
                                                                                                     \
  /* GELU, tanh approximation (GPT-2's "gelu_new"). n elements. dinp overwritten. */                 \
  void gelu_forward(REAL* out, const REAL* inp, size_t n);                                           \
  void gelu_backward(REAL* dinp, const REAL* inp, const REAL* dout, size_t n);                       \
  /* SwiGLU: gate_up (N,2FF) rows [gate | up]; out (N,FF) = silu(gate)·up. dgate_up overwritten.    \
   */                                                                                                \
  void swiglu_forward(REAL* out, const REAL* gate_up, int N, int FF);                                \
  void swiglu_backward(REAL* dgate_up, const REAL* dout, const REAL* gate_up, int N, int FF);        \
                                                                                                     \
  /* acc += x (residual stream and gradient fan-in). */                                              \
  void add_inplace(REAL* acc, const REAL* x, size_t n);                                              \
                                                                                                     \
  /* Cross-entropy per row: losses[n] = logsumexp(logits[n]) - logits[n][targets[n]], or 0 when      \
     targets[n] < 0 (masked). Returns the number of unmasked rows. logits (N,V). */                  \
  int64_t cross_entropy_forward(REAL* losses, const REAL* logits, const int32_t* targets, int N,     \
                                int V);                                                              \
  /* dlogits (N,V) = (softmax(logits) - onehot(target))·dloss, zero rows where target < 0.          \
     dlogits may alias logits. */                                                                    \
  void cross_entropy_backward(REAL* dlogits, const REAL* logits, const int32_t* targets,             \
                              REAL dloss, int N, int V);                                             \
  /* Fused: computes losses and overwrites logits with dlogits (scaled by dloss) in one pass per     \
     row, so no second (N,V) buffer exists. Returns the number of unmasked rows. */                  \
  int64_t cross_entropy_fused(REAL* logits_to_dlogits, REAL* losses, const int32_t* targets,         \
                              REAL dloss, int N, int V);                                             \
                                                                                                     \
  /* AdamW (decoupled decay), step >= 1 for bias correction:                                         \
     m = b1·m + (1-b1)·g; v = b2·v + (1-b2)·g²; p -= lr·(m̂/(sqrt(v̂)+eps) + wd·p). */      \
  void adamw_update(REAL* param, const REAL* grad, REAL* m, REAL* v, size_t n, REAL lr,              \
                    REAL beta1, REAL beta2, REAL eps, REAL weight_decay, int64_t step);              \
  /* Σ x² in double (for the global gradient norm). */                                             \
  double sum_squares(const REAL* x, size_t n);                                                       \
  /* x *= s */                                                                                       \
  void scale_inplace(REAL* x, REAL s, size_t n);

namespace lmforge::ref {
LMFORGE_KERNELS(double)
}  // namespace lmforge::ref

namespace lmforge::cpu {
LMFORGE_KERNELS(float)

// Row-major GEMM, C(M,N) = alpha·op(A)·op(B) + beta·C, with A, B and C fp32 in memory (op(A) is
// (M,K), op(B) (K,N); beta == 0 never reads C). Precision::bf16 rounds A and B to bf16 (nearest
// even) and accumulates in fp32: oneDNN's bf16 kernels where the active ISA has bf16
// instructions, else emulated (rounded inputs through the fp32 GEMM; same numbers up to the
// summation order). The library per precision and ISA is chosen in src/backend/cpu/gemm.cpp
// (backend::gemm_name reports it). Thread-safe.
void gemm(backend::Precision p, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
          const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc);
// gemm(Precision::fp32, ...): used by linear and the benchmarks.
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);
}  // namespace lmforge::cpu
