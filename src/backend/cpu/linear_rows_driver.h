// Private to linear_infer*.cpp: the row/thread structure of the few-row (decode) linear, shared by
// the fp32-weight kernel (linear_infer.cpp) and every path of the bf16-weight one
// (linear_infer_bf16*.cpp), and the 8-lane dot kernel that the fp32 and the bf16 AVX2 paths share
// (templated on the weight type: only the load of 8 weights differs). Each TU instantiates these
// with its own dot kernel, so every instance is compiled for that TU's ISA and has internal
// linkage (anonymous namespace; no weak symbol in an AVX-512 object, isa_kernels.h).
// Structure: threads split the output features; a block of RO weight rows is dotted, while it
// sits in L1, with every input row, RN rows per pass, so each weight row comes from memory once
// per call whatever N is (decode is bound by reading the weights).
// A dot kernel K provides
//   template <int RO, int RN, class W> static void dot(float* res, const W* w, const float* xr,
//                                                      size_t ldx, const bf16_t* xb, int IC);
// res[n·RO + r] = Σ_i x[n][i]·w[r·IC + i] for r < RO, n < RN, x the activations (xr as floats
// with row stride ldx, in the kernel's own layout; xb, bf16 kernels only, as bf16 with row stride
// IC: each kernel reads the one it multiplies; the other may be null). Each res element must be the
// same sum in the same order whatever RO and RN are: a row's result then does not depend on how
// many rows share the call or on which block its feature falls in
// (tests/backend/batch_invariance_test.cpp).
#pragma once
#include <immintrin.h>

#include <cstddef>

#include "lmforge/backend/bf16.h"

namespace lmforge::cpu {
namespace {

// 8 weights as 8 floats: a plain load, or a bf16 widened (a bf16 is the top half of its float).
inline __m256 load8(const float* p) {
  return _mm256_loadu_ps(p);
}
inline __m256 load8(const bf16_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
inline float load1(const float* p) {
  return *p;
}
inline float load1(const bf16_t* p) {
  return bf16_to_float(*p);
}

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The 8-lane dot: RO·RN accumulators + RO weight vectors + one input vector must fit the 16 ymm
// registers, or the compiler reloads operands inside the loop (3×4 did: 15 loads per 12 FMAs).
// The IC % 8 tail is added after the horizontal sum, the same way for every row.
struct DotAvx2 {
  template <int RO, int RN, class W>
  static void dot(float* res, const W* w, const float* xr, size_t ldx, const bf16_t*, int IC) {
    __m256 acc[RN][RO];
    for (int n = 0; n < RN; n++)
      for (int r = 0; r < RO; r++) acc[n][r] = _mm256_setzero_ps();
    const int IC8 = IC & ~7;
    for (int i = 0; i < IC8; i += 8) {
      __m256 wv[RO];
      for (int r = 0; r < RO; r++) wv[r] = load8(w + (size_t)r * IC + i);
      for (int n = 0; n < RN; n++) {
        __m256 xv = _mm256_loadu_ps(xr + n * ldx + i);
        for (int r = 0; r < RO; r++) acc[n][r] = _mm256_fmadd_ps(wv[r], xv, acc[n][r]);
      }
    }
    for (int n = 0; n < RN; n++)
      for (int r = 0; r < RO; r++) {
        float s = hsum8(acc[n][r]);
        for (int i = IC8; i < IC; i++) s += xr[n * ldx + i] * load1(w + (size_t)r * IC + i);
        res[n * RO + r] = s;
      }
  }
};

// K's dot for the nb <= RN input rows that are left.
template <class K, int RO, int RN, class W>
void dot_rows(float* res, const W* w, const float* xr, size_t ldx, const bf16_t* xb, int IC,
              int nb) {
  if constexpr (RN > 1) {
    if (nb < RN) return dot_rows<K, RO, RN - 1>(res, w, xr, ldx, xb, IC, nb);
  }
  K::template dot<RO, RN>(res, w, xr, ldx, xb, IC);
}

// out rows [0,N) × features [o, o+RO) from the RO weight rows at w.
template <class K, int RO, int RN, class W>
void rows_block(float* out, const float* xr, size_t ldx, const bf16_t* xb, const W* w,
                const float* bias, int N, int IC, int OC, int o) {
  float res[RN * RO];
  // Ask for the block after next now (into L2): the passes over this block then overlap the
  // memory latency of that one, which the hardware prefetcher does not cover when the same rows
  // are walked several times. Measured (fp32 decode linears of "small", 8 rows): ~1,300 ->
  // ~1,450-1,650 tokens/s; one block ahead gained less.
  if (o + 3 * RO <= OC) {
    const char* ahead = reinterpret_cast<const char*>(w + (size_t)2 * RO * IC);
    for (size_t b = 0; b < (size_t)RO * IC * sizeof(W); b += 64)
      _mm_prefetch(ahead + b, _MM_HINT_T1);
  }
  for (int n0 = 0; n0 < N; n0 += RN) {
    const int nb = N - n0 < RN ? N - n0 : RN;
    dot_rows<K, RO, RN>(res, w, xr ? xr + n0 * ldx : nullptr, ldx,
                        xb ? xb + (size_t)n0 * IC : nullptr, IC, nb);
    for (int n = 0; n < nb; n++)
      for (int r = 0; r < RO; r++)
        out[(size_t)(n0 + n) * OC + o + r] = res[n * RO + r] + (bias ? bias[o + r] : 0.0f);
  }
}

// out (N,OC) = x (N,IC)·weightᵀ + bias with K, RO weight rows per block and RN input rows per
// pass; the OC % RO last features one weight row at a time.
template <class K, int RO, int RN, class W>
void linear_rows(float* out, const float* xr, size_t ldx, const bf16_t* xb, const W* weight,
                 const float* bias, int N, int IC, int OC) {
  const int blocks = (OC + RO - 1) / RO;
#pragma omp parallel for schedule(static) if ((long)OC * IC > (1 << 16))
  for (int blk = 0; blk < blocks; blk++) {
    const int o = blk * RO;
    if (o + RO <= OC) {
      rows_block<K, RO, RN>(out, xr, ldx, xb, weight + (size_t)o * IC, bias, N, IC, OC, o);
    } else {
      for (int r = o; r < OC; r++)
        rows_block<K, 1, RN>(out, xr, ldx, xb, weight + (size_t)r * IC, bias, N, IC, OC, r);
    }
  }
}

}  // namespace
}  // namespace lmforge::cpu
