// The AVX-512 paths of linear_rows_forward_bf16 (see linear_infer_bf16.cpp): compiled with
// -mavx512f/bw/dq/vl (CMakeLists.txt); the vdpbf16ps kernel alone also carries AVX512_BF16
// through its target attribute, so nothing else here can use it. Tails are masked loads (zeros
// add nothing), so there is no scalar remainder loop.
#include "avx512_intrin.h"  // first: <immintrin.h> without GCC 12 false warnings
#include "isa_kernels.h"
#include "linear_rows_bf16_driver.h"

namespace lmforge::cpu {
namespace {
// 16 bf16 -> 16 floats (the first `mask` lanes; the rest 0).
inline __m512 widen16(const bf16_t* p, __mmask16 mask) {
  __m256i h = _mm256_maskz_loadu_epi16(mask, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

struct DotAvx512 {
  template <int RO, int RN>
  static void dot(float* res, const bf16_t* w, const float* xr, const bf16_t*, int IC) {
    __m512 acc[RN][RO];
    for (int n = 0; n < RN; n++)
      for (int r = 0; r < RO; r++) acc[n][r] = _mm512_setzero_ps();
    for (int i = 0; i < IC; i += 16) {
      const __mmask16 mask = IC - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (IC - i)) - 1);
      __m512 wv[RO];
      for (int r = 0; r < RO; r++) wv[r] = widen16(w + (size_t)r * IC + i, mask);
      for (int n = 0; n < RN; n++) {
        __m512 xv = _mm512_maskz_loadu_ps(mask, xr + (size_t)n * IC + i);
        for (int r = 0; r < RO; r++) acc[n][r] = _mm512_fmadd_ps(wv[r], xv, acc[n][r]);
      }
    }
    for (int n = 0; n < RN; n++)
      for (int r = 0; r < RO; r++) res[n * RO + r] = _mm512_reduce_add_ps(acc[n][r]);
  }
};

// acc += Σ over the pair (2j, 2j+1) of x·w, 16 pairs per vdpbf16ps.
template <int RO, int RN>
__attribute__((target("avx512bf16"))) void dot_dp(float* res, const bf16_t* w, const bf16_t* xb,
                                                  int IC) {
  __m512 acc[RN][RO];
  for (int n = 0; n < RN; n++)
    for (int r = 0; r < RO; r++) acc[n][r] = _mm512_setzero_ps();
  for (int i = 0; i < IC; i += 32) {
    const __mmask32 mask =
        IC - i >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (IC - i)) - 1);
    __m512i wv[RO];
    for (int r = 0; r < RO; r++) wv[r] = _mm512_maskz_loadu_epi16(mask, w + (size_t)r * IC + i);
    for (int n = 0; n < RN; n++) {
      __m512i xv = _mm512_maskz_loadu_epi16(mask, xb + (size_t)n * IC + i);
      for (int r = 0; r < RO; r++)
        acc[n][r] = _mm512_dpbf16_ps(acc[n][r], (__m512bh)xv, (__m512bh)wv[r]);
    }
  }
  for (int n = 0; n < RN; n++)
    for (int r = 0; r < RO; r++) res[n * RO + r] = _mm512_reduce_add_ps(acc[n][r]);
}

struct DotBf16 {
  template <int RO, int RN>
  static void dot(float* res, const bf16_t* w, const float*, const bf16_t* xb, int IC) {
    dot_dp<RO, RN>(res, w, xb, IC);
  }
};
}  // namespace

namespace avx512 {
// 32 zmm registers: one row streams 8 weight rows; more rows take 4 weight × 4 input rows
// (16 accumulators + 4 weights + 1 input).
void linear_rows_bf16(float* out, const float* xr, const bf16_t* xb, const bf16_t* weight,
                      const float* bias, int N, int IC, int OC) {
  if (N == 1)
    bf16_rows<DotAvx512, 8, 1>(out, xr, xb, weight, bias, N, IC, OC);
  else
    bf16_rows<DotAvx512, 4, 4>(out, xr, xb, weight, bias, N, IC, OC);
}

void linear_rows_bf16_dp(float* out, const float* xr, const bf16_t* xb, const bf16_t* weight,
                         const float* bias, int N, int IC, int OC) {
  if (N == 1)
    bf16_rows<DotBf16, 8, 1>(out, xr, xb, weight, bias, N, IC, OC);
  else
    bf16_rows<DotBf16, 4, 4>(out, xr, xb, weight, bias, N, IC, OC);
}
}  // namespace avx512

}  // namespace lmforge::cpu
