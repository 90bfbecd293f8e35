// Bulk float <-> bfloat16 conversion (scalar reference loops; vectorized paths are dispatched
// here).
#include "lmforge/backend/bf16.h"

namespace lmforge::cpu {

void convert_to_bf16(bf16_t* dst, const float* src, size_t n) {
#pragma omp parallel for schedule(static) if (n > (1u << 16))
  for (size_t i = 0; i < n; i++) dst[i] = float_to_bf16(src[i]);
}

void convert_from_bf16(float* dst, const bf16_t* src, size_t n) {
#pragma omp parallel for schedule(static) if (n > (1u << 16))
  for (size_t i = 0; i < n; i++) dst[i] = bf16_to_float(src[i]);
}

}  // namespace lmforge::cpu
