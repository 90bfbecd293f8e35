// Kernels used only by inference (src/infer/): attention of new query rows against a KV cache,
// and a linear layer for the few rows of a decode step.
// Same two backends and conventions as kernels.h (ref: double oracle, cpu: float + OpenMP).
// Not here: anything with a backward (inference never differentiates), the cache itself
// (KVCache in include/lmforge/infer/engine.h).
#pragma once
#include <cstddef>
#include <cstdint>

#include "lmforge/backend/bf16.h"

#define LMFORGE_INFER_KERNELS(REAL)                                                               \
  /* Cached causal attention with grouped-query heads, one query row at a time, so rows of        \
     different sequences (a batched decode step) and a prompt chunk (prefill) are one call.       \
     Row r: q[r] = q + r·ldq, heads [NH][HS]; it attends to keys 0..pos[r] (inclusive) of its    \
     own sequence's cache, k[r] and v[r] each (NKV, maxT, HS) with the row's keys already         \
     written at pos[r]. Query head h reads kv head h/(NH/NKV); scale 1/sqrt(HS).                  \
     out (N, NH·HS), overwritten. */                                                             \
  void attention_cached_forward(REAL* out, const REAL* q, int ldq, const REAL* const* k,          \
                                const REAL* const* v, const int32_t* pos, int N, int NH, int NKV, \
                                int HS, int maxT);                                                \
  /* linear_forward (kernels.h) for few rows (a decode step: N = active sequences): out (N,OC) =  \
     inp (N,IC)·weightᵀ + bias, bias may be null. Reads each weight row once for all N rows,   \
     which is what bounds decode speed; a packed GEMM would spend its time packing. */            \
  void linear_rows_forward(REAL* out, const REAL* inp, const REAL* weight, const REAL* bias,      \
                           int N, int IC, int OC);                                                \
  /* linear_rows_forward with the weight stored as bf16 (OC,IC) (half the bytes per decoded       \
     token). Each activation is rounded to bf16 first (nearest even, as PyTorch's bf16 autocast   \
     and vdpbf16ps see it; a double input is rounded to float, then to bf16), products accumulate \
     in fp32 (double in ref); bias stays REAL. Same result on every ISA path up to summation      \
     order. */                                                                                    \
  void linear_rows_forward_bf16(REAL* out, const REAL* inp, const bf16_t* weight,                 \
                                const REAL* bias, int N, int IC, int OC);

namespace lmforge::ref {
LMFORGE_INFER_KERNELS(double)
}  // namespace lmforge::ref

namespace lmforge::cpu {
LMFORGE_INFER_KERNELS(float)

// A linear weight W (OC, IC) packed once into the AVX2 GEMM's layout, so that batched decode steps
// stop packing the weights on every call (cpu/gemm_avx2.cpp). Only where packed_linear_available()
// (AVX2+FMA and our GEMM enabled); the result equals linear_forward's up to float rounding.
bool packed_linear_available();
size_t packed_weight_floats(int IC, int OC);
void pack_weight(float* dst, const float* W, int IC,
                 int OC);  // dst: packed_weight_floats, 32B-aligned
// out (N, OC) = inp (N, IC)·Wᵀ + bias (bias may be null), from pack_weight's output.
void linear_packed_forward(float* out, const float* inp, const float* packed, const float* bias,
                           int N, int IC, int OC);
}  // namespace lmforge::cpu
