// Reference (double, naive) fully connected layer, weight (OC,IC) as nn.Linear. The oracle for
// cpu/linear.cpp; three plain loops, no blocking.
#include "lmforge/backend/kernels.h"

namespace lmforge::ref {

void linear_forward(double* out, const double* inp, const double* weight, const double* bias, int N,
                    int IC, int OC) {
  for (int n = 0; n < N; n++) {
    for (int o = 0; o < OC; o++) {
      double s = bias ? bias[o] : 0.0;
      for (int i = 0; i < IC; i++) s += inp[(size_t)n * IC + i] * weight[(size_t)o * IC + i];
      out[(size_t)n * OC + o] = s;
    }
  }
}

void linear_backward(double* dinp, double* dweight, double* dbias, const double* dout,
                     const double* inp, const double* weight, int N, int IC, int OC) {
  if (dinp) {
    for (int n = 0; n < N; n++) {
      for (int i = 0; i < IC; i++) {
        double s = 0.0;
        for (int o = 0; o < OC; o++) s += dout[(size_t)n * OC + o] * weight[(size_t)o * IC + i];
        dinp[(size_t)n * IC + i] = s;
      }
    }
  }
  if (dweight) {
    for (int o = 0; o < OC; o++) {
      for (int i = 0; i < IC; i++) {
        double s = 0.0;
        for (int n = 0; n < N; n++) s += dout[(size_t)n * OC + o] * inp[(size_t)n * IC + i];
        dweight[(size_t)o * IC + i] += s;
      }
    }
  }
  if (dbias) {
    for (int o = 0; o < OC; o++) {
      double s = 0.0;
      for (int n = 0; n < N; n++) s += dout[(size_t)n * OC + o];
      dbias[o] += s;
    }
  }
}

}  // namespace lmforge::ref
