// Reference (double) few-row linear: the plain triple loop, the oracle for cpu/linear_infer.cpp
// and (bf16 weights) cpu/linear_infer_bf16.cpp.
#include <cstddef>

#include "lmforge/backend/kernels_infer.h"

namespace lmforge::ref {

void linear_rows_forward(double* out, const double* inp, const double* weight, const double* bias,
                         int N, int IC, int OC) {
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      double acc = bias ? bias[o] : 0.0;
      for (int i = 0; i < IC; i++) acc += inp[(size_t)n * IC + i] * weight[(size_t)o * IC + i];
      out[(size_t)n * OC + o] = acc;
    }
}

}  // namespace lmforge::ref

namespace lmforge::ref {

// The bf16-weight oracle: the activation rounded to bf16 as the kernel contract says, the weight
// widened exactly, products and sums in double.
void linear_rows_forward_bf16(double* out, const double* inp, const bf16_t* weight,
                              const double* bias, int N, int IC, int OC) {
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      double acc = bias ? bias[o] : 0.0;
      for (int i = 0; i < IC; i++)
        acc += (double)round_to_bf16((float)inp[(size_t)n * IC + i]) *
               (double)bf16_to_float(weight[(size_t)o * IC + i]);
      out[(size_t)n * OC + o] = acc;
    }
}

}  // namespace lmforge::ref
