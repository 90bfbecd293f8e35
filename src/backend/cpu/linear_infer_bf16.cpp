// Few-row linear with bf16 weights (decode in bf16: half the weight bytes per token, and decode
// is bound by reading the weights). The activations are rounded to bf16 once per call here (N·IC
// values, small next to the OC·IC weights), so that every ISA path computes the same products:
//   avx512_bf16  vdpbf16ps on bf16 pairs, fp32 accumulation (linear_infer_bf16_avx512.cpp)
//   avx512       bf16 -> fp32 by a 16-bit shift, fp32 FMA, 16 lanes (same file)
//   avx2         the same with 8 lanes (this file)
// Paths differ only in summation order. vdpbf16ps flushes denormal inputs and results to zero
// (bf16 denormals are below 1e-38; weights and activations never live there).
// Not here: bf16 GEMM for many rows (gemm.cpp), the bulk converters (bf16.cpp).
#include <immintrin.h>

#include <vector>

#include "isa_kernels.h"
#include "linear_rows_bf16_driver.h"
#include "lmforge/backend/isa.h"

namespace lmforge::cpu {
namespace {
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 8 bf16 -> 8 floats: a bf16 is the top half of its float.
inline __m256 widen8(const bf16_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

struct DotAvx2 {
  template <int RO, int RN>
  static void dot(float* res, const bf16_t* w, const float* xr, size_t ldx, const bf16_t*, int IC) {
    __m256 acc[RN][RO];
    for (int n = 0; n < RN; n++)
      for (int r = 0; r < RO; r++) acc[n][r] = _mm256_setzero_ps();
    const int IC8 = IC & ~7;
    for (int i = 0; i < IC8; i += 8) {
      __m256 wv[RO];
      for (int r = 0; r < RO; r++) wv[r] = widen8(w + (size_t)r * IC + i);
      for (int n = 0; n < RN; n++) {
        __m256 xv = _mm256_loadu_ps(xr + n * ldx + i);
        for (int r = 0; r < RO; r++) acc[n][r] = _mm256_fmadd_ps(wv[r], xv, acc[n][r]);
      }
    }
    for (int n = 0; n < RN; n++)
      for (int r = 0; r < RO; r++) {
        float s = hsum8(acc[n][r]);
        for (int i = IC8; i < IC; i++) s += xr[n * ldx + i] * bf16_to_float(w[(size_t)r * IC + i]);
        res[n * RO + r] = s;
      }
  }
};
}  // namespace

namespace avx2 {
// Register budget as linear_infer.cpp: one row streams 8 weight rows (9 ymm); more rows take 4
// weight × 2 input rows (8 accumulators + 4 weights + 1 input, of 16 ymm).
void linear_rows_bf16(float* out, const float* xr, const bf16_t* xb, const bf16_t* weight,
                      const float* bias, int N, int IC, int OC) {
  if (N == 1)
    bf16_rows<DotAvx2, 8, 1>(out, xr, IC, xb, weight, bias, N, IC, OC);
  else
    bf16_rows<DotAvx2, 4, 2>(out, xr, IC, xb, weight, bias, N, IC, OC);
}
}  // namespace avx2

void linear_rows_forward_bf16(float* out, const float* inp, const bf16_t* weight, const float* bias,
                              int N, int IC, int OC) {
  using backend::Isa;
  const size_t n = (size_t)N * IC;
  std::vector<bf16_t> xb(n);
  std::vector<float> xr(n);
  for (size_t i = 0; i < n; i++) {
    xb[i] = float_to_bf16(inp[i]);
    xr[i] = bf16_to_float(xb[i]);
  }
  if (backend::isa_at_least(Isa::avx512_bf16))
    avx512::linear_rows_bf16_dp(out, xr.data(), xb.data(), weight, bias, N, IC, OC);
  else if (backend::isa_at_least(Isa::avx512))
    avx512::linear_rows_bf16(out, xr.data(), xb.data(), weight, bias, N, IC, OC);
  else
    avx2::linear_rows_bf16(out, xr.data(), xb.data(), weight, bias, N, IC, OC);
}

}  // namespace lmforge::cpu
