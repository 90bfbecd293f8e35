// Reference (double, naive) LayerNorm and RMSNorm. The oracle for cpu/norm.cpp. Variance is the
// biased one (divide by C), as torch.nn.LayerNorm. Backward formulas follow llm.c: with
// n = normalized input and g = weight·dout, dinp = rstd·(g − mean(g) − n·mean(g·n)).
#include <cmath>

#include "lmforge/backend/kernels.h"

namespace lmforge::ref {

void layernorm_forward(double* out, double* mean, double* rstd, const double* inp,
                       const double* weight, const double* bias, int N, int C, double eps) {
  for (int n = 0; n < N; n++) {
    const double* x = inp + (size_t)n * C;
    double m = 0.0;
    for (int c = 0; c < C; c++) m += x[c];
    m /= C;
    double v = 0.0;
    for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
    v /= C;
    double s = 1.0 / std::sqrt(v + eps);
    for (int c = 0; c < C; c++) out[(size_t)n * C + c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

void layernorm_backward(double* dinp, double* dweight, double* dbias, const double* dout,
                        const double* inp, const double* weight, const double* mean,
                        const double* rstd, int N, int C) {
  for (int n = 0; n < N; n++) {
    const double* x = inp + (size_t)n * C;
    const double* d = dout + (size_t)n * C;
    double g_mean = 0.0, gn_mean = 0.0;
    for (int c = 0; c < C; c++) {
      double norm = (x[c] - mean[n]) * rstd[n];
      g_mean += weight[c] * d[c];
      gn_mean += weight[c] * d[c] * norm;
    }
    g_mean /= C;
    gn_mean /= C;
    for (int c = 0; c < C; c++) {
      double norm = (x[c] - mean[n]) * rstd[n];
      dinp[(size_t)n * C + c] += (weight[c] * d[c] - g_mean - norm * gn_mean) * rstd[n];
      dweight[c] += norm * d[c];
      dbias[c] += d[c];
    }
  }
}

void rmsnorm_forward(double* out, double* rstd, const double* inp, const double* weight, int N,
                     int C, double eps) {
  for (int n = 0; n < N; n++) {
    const double* x = inp + (size_t)n * C;
    double ms = 0.0;
    for (int c = 0; c < C; c++) ms += x[c] * x[c];
    double s = 1.0 / std::sqrt(ms / C + eps);
    for (int c = 0; c < C; c++) out[(size_t)n * C + c] = x[c] * s * weight[c];
    rstd[n] = s;
  }
}

void rmsnorm_backward(double* dinp, double* dweight, const double* dout, const double* inp,
                      const double* weight, const double* rstd, int N, int C) {
  for (int n = 0; n < N; n++) {
    const double* x = inp + (size_t)n * C;
    const double* d = dout + (size_t)n * C;
    double gn_mean = 0.0;
    for (int c = 0; c < C; c++) gn_mean += weight[c] * d[c] * x[c] * rstd[n];
    gn_mean /= C;
    for (int c = 0; c < C; c++) {
      double norm = x[c] * rstd[n];
      dinp[(size_t)n * C + c] += (weight[c] * d[c] - norm * gn_mean) * rstd[n];
      dweight[c] += norm * d[c];
    }
  }
}

}  // namespace lmforge::ref
