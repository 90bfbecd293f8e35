// Private to linear_infer_bf16*.cpp: the row/thread structure of the bf16-weight decode linear,
// shared by its ISA paths (each TU instantiates it with its own dot kernel, so every instance is
// compiled for that TU's ISA and has internal linkage). Same structure as linear_infer.cpp:
// threads split the output features; a block of RO weight rows is dotted, while it sits in L1,
// with every input row, RN rows per pass, so each weight row comes from memory once per call.
// A kernel K provides
//   template <int RO, int RN> static void dot(float* res, const bf16_t* w, const float* xr,
//                                             size_t ldx, const bf16_t* xb, int IC);
// res[n·RO + r] = Σ_i x[n][i]·w[r·IC + i] for r < RO, n < RN, x the bf16-rounded activations
// (xr as floats with row stride ldx, in the kernel's own layout; xb as bf16 with row stride IC:
// each kernel reads the one it multiplies).
#pragma once
#include <immintrin.h>

#include <cstddef>

#include "lmforge/backend/bf16.h"

namespace lmforge::cpu {
namespace {

template <class K, int RO, int RN>
void bf16_dot_rows(float* res, const bf16_t* w, const float* xr, size_t ldx, const bf16_t* xb,
                   int IC, int nb) {
  if constexpr (RN > 1) {
    if (nb < RN) return bf16_dot_rows<K, RO, RN - 1>(res, w, xr, ldx, xb, IC, nb);
  }
  K::template dot<RO, RN>(res, w, xr, ldx, xb, IC);
}

// out rows [0,N) × features [o, o+RO) from the RO weight rows at w.
template <class K, int RO, int RN>
void bf16_rows_block(float* out, const float* xr, size_t ldx, const bf16_t* xb, const bf16_t* w,
                     const float* bias, int N, int IC, int OC, int o) {
  float res[RN * RO];
  // The block after next into L2, as linear_infer.cpp does (measured there).
  if (o + 3 * RO <= OC) {
    const char* ahead = reinterpret_cast<const char*>(w + (size_t)2 * RO * IC);
    for (size_t b = 0; b < (size_t)RO * IC * sizeof(bf16_t); b += 64)
      _mm_prefetch(ahead + b, _MM_HINT_T1);
  }
  for (int n0 = 0; n0 < N; n0 += RN) {
    const int nb = N - n0 < RN ? N - n0 : RN;
    bf16_dot_rows<K, RO, RN>(res, w, xr + n0 * ldx, ldx, xb + (size_t)n0 * IC, IC, nb);
    for (int n = 0; n < nb; n++)
      for (int r = 0; r < RO; r++)
        out[(size_t)(n0 + n) * OC + o + r] = res[n * RO + r] + (bias ? bias[o + r] : 0.0f);
  }
}

template <class K, int RO, int RN>
void bf16_rows(float* out, const float* xr, size_t ldx, const bf16_t* xb, const bf16_t* weight,
               const float* bias, int N, int IC, int OC) {
  const int blocks = (OC + RO - 1) / RO;
#pragma omp parallel for schedule(static) if ((long)OC * IC > (1 << 16))
  for (int blk = 0; blk < blocks; blk++) {
    const int o = blk * RO;
    if (o + RO <= OC) {
      bf16_rows_block<K, RO, RN>(out, xr, ldx, xb, weight + (size_t)o * IC, bias, N, IC, OC, o);
    } else {
      for (int r = o; r < OC; r++)
        bf16_rows_block<K, 1, RN>(out, xr, ldx, xb, weight + (size_t)r * IC, bias, N, IC, OC, r);
    }
  }
}

}  // namespace
}  // namespace lmforge::cpu
