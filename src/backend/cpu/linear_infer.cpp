// Few-row linear for decode steps (GEMV-like): threads split the output features; each weight row
// is loaded once and dotted with every input row while it sits in L1, so a step reads the weights
// from memory once whatever N is. For N beyond a handful the packed GEMM (cpu/linear.cpp) wins:
// the engine switches at kRowsGemv (infer/engine.cpp).
#include <cstddef>

#include "lmforge/backend/kernels_infer.h"

namespace lmforge::cpu {

void linear_rows_forward(float* out, const float* inp, const float* weight, const float* bias,
                         int N, int IC, int OC) {
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

}  // namespace lmforge::cpu
