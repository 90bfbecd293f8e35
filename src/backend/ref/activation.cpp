// Reference (double, naive) GELU (tanh approximation, GPT-2's "gelu_new") and SwiGLU. The oracle
// for cpu/activation.cpp.
#include <cmath>

#include "lmforge/backend/kernels.h"

namespace lmforge::ref {
namespace {
const double kGeluC = std::sqrt(2.0 / M_PI);
double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}
}  // namespace

void gelu_forward(double* out, const double* inp, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double x = inp[i];
    out[i] = 0.5 * x * (1.0 + std::tanh(kGeluC * (x + 0.044715 * x * x * x)));
  }
}

void gelu_backward(double* dinp, const double* inp, const double* dout, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double x = inp[i];
    double u = kGeluC * (x + 0.044715 * x * x * x);
    double th = std::tanh(u);
    double du = kGeluC * (1.0 + 3.0 * 0.044715 * x * x);
    dinp[i] = dout[i] * (0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * du);
  }
}

void swiglu_forward(double* out, const double* gate_up, int N, int FF) {
  for (int n = 0; n < N; n++) {
    const double* g = gate_up + (size_t)n * 2 * FF;
    const double* u = g + FF;
    for (int i = 0; i < FF; i++) out[(size_t)n * FF + i] = g[i] * sigmoid(g[i]) * u[i];
  }
}

void swiglu_backward(double* dgate_up, const double* dout, const double* gate_up, int N, int FF) {
  for (int n = 0; n < N; n++) {
    const double* g = gate_up + (size_t)n * 2 * FF;
    const double* u = g + FF;
    double* dg = dgate_up + (size_t)n * 2 * FF;
    double* du = dg + FF;
    for (int i = 0; i < FF; i++) {
      double s = sigmoid(g[i]);
      double d = dout[(size_t)n * FF + i];
      dg[i] = d * u[i] * s * (1.0 + g[i] * (1.0 - s));
      du[i] = d * g[i] * s;
    }
  }
}

}  // namespace lmforge::ref
