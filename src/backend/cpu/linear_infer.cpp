// Few-row linear for decode steps (GEMV-like): out (N,OC) = inp (N,IC)·weightᵀ + bias, for the N
// active sequences of a decode step. Decode is bound by reading the weights, so each weight row
// must come from memory once per step whatever N is: threads split the output features; a
// thread takes a few weight rows at a time and, while they sit in L1, dots them with every input
// row, several input rows per pass (see rows_avx2 for the register budget). One horizontal sum
// per (input row, feature) at the end.
// The packed GEMM (cpu/linear.cpp) takes over when N is large enough for its packing to pay
// (the engine switches at kRowsGemv, infer/engine.cpp). A portable loop serves CPUs without
// AVX2/FMA.
#include <immintrin.h>

#include <cstddef>

#include "lmforge/backend/kernels_infer.h"

namespace lmforge::cpu {
namespace {
__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// res[n·RO + r] = Σ_i x[n·IC + i]·w[r·IC + i] for r < RO, n < RN.
template <int RO, int RN>
__attribute__((target("avx2,fma"))) void dot_block(float* res, const float* w, const float* x,
                                                   int IC) {
  __m256 acc[RN][RO];
  for (int n = 0; n < RN; n++)
    for (int r = 0; r < RO; r++) acc[n][r] = _mm256_setzero_ps();
  const int IC8 = IC & ~7;
  for (int i = 0; i < IC8; i += 8) {
    __m256 wv[RO];
    for (int r = 0; r < RO; r++) wv[r] = _mm256_loadu_ps(w + (size_t)r * IC + i);
    for (int n = 0; n < RN; n++) {
      __m256 xv = _mm256_loadu_ps(x + (size_t)n * IC + i);
      for (int r = 0; r < RO; r++) acc[n][r] = _mm256_fmadd_ps(wv[r], xv, acc[n][r]);
    }
  }
  for (int n = 0; n < RN; n++)
    for (int r = 0; r < RO; r++) {
      float s = hsum(acc[n][r]);
      for (int i = IC8; i < IC; i++) s += x[(size_t)n * IC + i] * w[(size_t)r * IC + i];
      res[n * RO + r] = s;
    }
}

// dot_block for the nb <= RN input rows that are left.
template <int RO, int RN>
__attribute__((target("avx2,fma"))) void dot_rows(float* res, const float* w, const float* x,
                                                  int IC, int nb) {
  if constexpr (RN > 1) {
    if (nb < RN) return dot_rows<RO, RN - 1>(res, w, x, IC, nb);
  }
  dot_block<RO, RN>(res, w, x, IC);
}

// out rows [0,N) × features [o, o+RO) from the RO weight rows at w, RN input rows per pass.
template <int RO, int RN>
__attribute__((target("avx2,fma"))) void rows_block(float* out, const float* inp, const float* w,
                                                    const float* bias, int N, int IC, int OC,
                                                    int o) {
  float res[RN * RO];
  // Ask for the block after next now (into L2): the passes over this block then overlap the
  // memory latency of that one, which the hardware prefetcher does not cover when the same rows
  // are walked several times. Measured (decode linears of "small", 8 rows): ~1,300 -> ~1,450-1,650
  // tokens/s; one block ahead gained less.
  if (o + 3 * RO <= OC) {
    const char* ahead = reinterpret_cast<const char*>(w + (size_t)2 * RO * IC);
    for (size_t b = 0; b < (size_t)RO * IC * sizeof(float); b += 64)
      _mm_prefetch(ahead + b, _MM_HINT_T1);
  }
  for (int n0 = 0; n0 < N; n0 += RN) {
    const int nb = N - n0 < RN ? N - n0 : RN;
    const float* x = inp + (size_t)n0 * IC;
    dot_rows<RO, RN>(res, w, x, IC, nb);  // the last pass takes what is left
    for (int n = 0; n < nb; n++)
      for (int r = 0; r < RO; r++)
        out[(size_t)(n0 + n) * OC + o + r] = res[n * RO + r] + (bias ? bias[o + r] : 0.0f);
  }
}

// RO weight rows per block, RN input rows per pass: RO·RN accumulators + RO weight vectors + RN
// input vectors must fit the 16 ymm registers, or the compiler reloads operands inside the loop
// (3×4 did: 15 loads per 12 FMAs). One row (a single-stream step) is pure streaming: 8 weight
// rows a block, 9 registers, each weight vector used once. More rows: 4 weight × 2 input rows,
// 14 registers, 6 loads per 8 FMAs. Measured with bench/infer_bench ("small", 2 threads):
// one stream ~400 -> ~500 tokens/s going from 4 to 8 weight rows; 8 streams 795 (packed GEMM) ->
// ~1,550 tokens/s.
template <int RO, int RN>
__attribute__((target("avx2,fma"))) void rows_avx2(float* out, const float* inp,
                                                   const float* weight, const float* bias, int N,
                                                   int IC, int OC) {
  const int blocks = (OC + RO - 1) / RO;
#pragma omp parallel for schedule(static) if ((long)OC * IC > (1 << 16))
  for (int blk = 0; blk < blocks; blk++) {
    const int o = blk * RO;
    if (o + RO <= OC) {
      rows_block<RO, RN>(out, inp, weight + (size_t)o * IC, bias, N, IC, OC, o);
    } else {
      for (int r = o; r < OC; r++)
        rows_block<1, RN>(out, inp, weight + (size_t)r * IC, bias, N, IC, OC, r);
    }
  }
}

void rows_portable(float* out, const float* inp, const float* weight, const float* bias, int N,
                   int IC, int OC) {
#pragma omp parallel for schedule(static) if ((long)OC * IC > (1 << 16))
  for (int o = 0; o < OC; o++) {
    const float* w = weight + (size_t)o * IC;
    for (int n = 0; n < N; n++) {
      const float* x = inp + (size_t)n * IC;
      float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
      for (int i = 0; i < IC; i++) acc += x[i] * w[i];
      out[(size_t)n * OC + o] = acc + (bias ? bias[o] : 0.0f);
    }
  }
}

bool have_avx2_fma() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}
}  // namespace

void linear_rows_forward(float* out, const float* inp, const float* weight, const float* bias,
                         int N, int IC, int OC) {
  if (have_avx2_fma() && N == 1)
    rows_avx2<8, 1>(out, inp, weight, bias, N, IC, OC);
  else if (have_avx2_fma())
    rows_avx2<4, 2>(out, inp, weight, bias, N, IC, OC);
  else
    rows_portable(out, inp, weight, bias, N, IC, OC);
}

}  // namespace lmforge::cpu
