// Peak chains for AVX-512: fp32 vfmadd231ps on zmm registers (16 lanes) and, with AVX512_BF16,
// vdpbf16ps (16 fp32 lanes, each += two bf16 products). Compiled with -mavx512f -mavx512bf16
// (CMakeLists.txt); see peak_kernels.h.
#include <immintrin.h>

#include "peak_kernels.h"

namespace lmforge::cpu {

float peak_fma_zmm(long iterations) {
  __m512 acc[kFmaZmmChains];
  for (int i = 0; i < kFmaZmmChains; i++) acc[i] = _mm512_set1_ps(0.001f * float(i));
  const __m512 x = _mm512_set1_ps(0.9999f), y = _mm512_set1_ps(1e-5f);  // converges to 0.1
  for (long k = 0; k < iterations; k++) {
#pragma GCC unroll 24
    for (int i = 0; i < kFmaZmmChains; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kFmaZmmChains; i++) s = _mm512_add_ps(s, acc[i]);
  return _mm512_cvtss_f32(s);
}

float peak_dpbf16_zmm(long iterations) {
  __m512 acc[kDpbf16Chains];
  for (int i = 0; i < kDpbf16Chains; i++) acc[i] = _mm512_setzero_ps();
  // Each lane grows by 2·(1/64)² per instruction: ~1e3 after 2e6 rounds, far from overflow.
  const __m512 v = _mm512_set1_ps(1.0f / 64);
  const __m512bh a = _mm512_cvtne2ps_pbh(v, v);
  for (long k = 0; k < iterations; k++) {
#pragma GCC unroll 24
    for (int i = 0; i < kDpbf16Chains; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, a);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kDpbf16Chains; i++) s = _mm512_add_ps(s, acc[i]);
  return _mm512_cvtss_f32(s);
}

}  // namespace lmforge::cpu
