// Reference (double) few-row linear: the plain triple loop, the oracle for cpu/linear_infer.cpp.
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
