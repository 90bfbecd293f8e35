// fp32 peak chains for AVX2+FMA (the build's baseline): vfmadd231ps on ymm registers, 8 lanes.
// See peak_kernels.h.
#include <immintrin.h>

#include "peak_kernels.h"

namespace lmforge::cpu {

float peak_fma_ymm(long iterations) {
  __m256 acc[kFmaYmmChains];
  for (int i = 0; i < kFmaYmmChains; i++) acc[i] = _mm256_set1_ps(0.001f * float(i));
  // a = a·x + y converges to y / (1 - x) = 0.1: no overflow, no denormals, however long it runs.
  const __m256 x = _mm256_set1_ps(0.9999f), y = _mm256_set1_ps(1e-5f);
  for (long k = 0; k < iterations; k++) {
#pragma GCC unroll 12
    for (int i = 0; i < kFmaYmmChains; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  __m256 s = acc[0];
  for (int i = 1; i < kFmaYmmChains; i++) s = _mm256_add_ps(s, acc[i]);
  return _mm256_cvtss_f32(s);
}

}  // namespace lmforge::cpu
