// The AVX-512 paths of linear_rows_forward_bf16 (see linear_infer_bf16.cpp): compiled with
// -mavx512f/bw/dq/vl (CMakeLists.txt); the vdpbf16ps kernel alone also carries AVX512_BF16
// through its target attribute, so nothing else here can use it. Tails are masked loads (zeros
// add nothing), so there is no scalar remainder loop.
#include "avx512_intrin.h"  // first: <immintrin.h> without GCC 12 false warnings
#include "isa_kernels.h"
#include "linear_rows_driver.h"

namespace lmforge::cpu {
namespace {
// 32 bf16 weights in one zmm widen without a lane-crossing shuffle: a 16-bit shift left gives
// the even-indexed ones as floats, masking off the low half the odd-indexed ones. The activations
// are laid out to match (split_pairs), so each FMA pairs the right elements; the sum is the same
// dot product in another order. (Widening 16 at a time with vpmovzxwd made N > 1 slower than the
// AVX2 path: measured 60-83 ms vs 47 ms for GPT-2's 48 decode linears at N=4.)
struct DotAvx512 {
  template <int RO, int RN>
  static void dot(float* res, const bf16_t* w, const float* xs, size_t ldx, const bf16_t*, int IC) {
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    __m512 acc[RN][RO];
    for (int n = 0; n < RN; n++)
      for (int r = 0; r < RO; r++) acc[n][r] = _mm512_setzero_ps();
    for (int i = 0; i < IC; i += 32) {
      const __mmask32 mask =
          IC - i >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (IC - i)) - 1);
      __m512 we[RO], wo[RO];
      for (int r = 0; r < RO; r++) {
        __m512i v = _mm512_maskz_loadu_epi16(mask, w + (size_t)r * IC + i);
        we[r] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
        wo[r] = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
      }
      for (int n = 0; n < RN; n++) {
        __m512 xe = _mm512_loadu_ps(xs + n * ldx + i);
        __m512 xo = _mm512_loadu_ps(xs + n * ldx + i + 16);
        for (int r = 0; r < RO; r++) {
          acc[n][r] = _mm512_fmadd_ps(we[r], xe, acc[n][r]);
          acc[n][r] = _mm512_fmadd_ps(wo[r], xo, acc[n][r]);
        }
      }
    }
    for (int n = 0; n < RN; n++)
      for (int r = 0; r < RO; r++) res[n * RO + r] = _mm512_reduce_add_ps(acc[n][r]);
  }
};

// xs (N, IC32): per block of 32, the 16 even-indexed activations, then the 16 odd-indexed ones,
// zero past IC.
void split_pairs(float* xs, const float* xr, int N, int IC) {
  const int IC32 = (IC + 31) & ~31;
  for (int n = 0; n < N; n++)
    for (int i = 0; i < IC32; i += 32)
      for (int j = 0; j < 16; j++) {
        const int e = i + 2 * j, o = e + 1;
        xs[(size_t)n * IC32 + i + j] = e < IC ? xr[(size_t)n * IC + e] : 0.0f;
        xs[(size_t)n * IC32 + i + 16 + j] = o < IC ? xr[(size_t)n * IC + o] : 0.0f;
      }
}

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
  static void dot(float* res, const bf16_t* w, const float*, size_t, const bf16_t* xb, int IC) {
    dot_dp<RO, RN>(res, w, xb, IC);
  }
};
}  // namespace

namespace avx512 {
// 32 zmm registers: one row streams 8 weight rows; more rows take 4 weight × 4 input rows
// (16 accumulators + 4 weights + 1 input).
void linear_rows_bf16(float* out, const float* xr, const bf16_t* xb, const bf16_t* weight,
                      const float* bias, int N, int IC, int OC) {
  const int IC32 = (IC + 31) & ~31;
  float* xs = new float[(size_t)N * IC32];  // new[]: no std:: container instances in ISA builds
  split_pairs(xs, xr, N, IC);
  if (N == 1)
    linear_rows<DotAvx512, 8, 1>(out, xs, IC32, xb, weight, bias, N, IC, OC);
  else
    linear_rows<DotAvx512, 4, 4>(out, xs, IC32, xb, weight, bias, N, IC, OC);
  delete[] xs;
}

void linear_rows_bf16_dp(float* out, const float* xr, const bf16_t* xb, const bf16_t* weight,
                         const float* bias, int N, int IC, int OC) {
  if (N == 1)
    linear_rows<DotBf16, 8, 1>(out, xr, IC, xb, weight, bias, N, IC, OC);
  else
    linear_rows<DotBf16, 4, 4>(out, xr, IC, xb, weight, bias, N, IC, OC);
}
}  // namespace avx512

}  // namespace lmforge::cpu
