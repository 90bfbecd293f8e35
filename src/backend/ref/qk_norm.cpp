// Reference (double, naive) per-head q/k RMSNorm (Qwen3's q_norm / k_norm), the oracle for
// cpu/qk_norm.cpp. Each q or k head is one RMSNorm row of HS values; the backward is RMSNorm's:
// with n = x·rstd and g = w·dout, dx = rstd·(g − n·mean(g·n)), dw += n·dout.
#include <cmath>

#include "lmforge/backend/kernels.h"

namespace lmforge::ref {

void qk_norm_forward(double* qkv, double* qk_inp, double* rstd, const double* q_weight,
                     const double* k_weight, int N, int NH, int NKV, int HS, double eps) {
  const size_t QKV = (size_t)(NH + 2 * NKV) * HS, H = (size_t)NH + NKV;
  for (int n = 0; n < N; n++)
    for (size_t h = 0; h < H; h++) {
      double* x = qkv + n * QKV + h * HS;
      const double* w = h < (size_t)NH ? q_weight : k_weight;
      double ms = 0.0;
      for (int i = 0; i < HS; i++) ms += x[i] * x[i];
      const double s = 1.0 / std::sqrt(ms / HS + eps);
      if (qk_inp)
        for (int i = 0; i < HS; i++) qk_inp[(n * H + h) * HS + i] = x[i];
      if (rstd) rstd[n * H + h] = s;
      for (int i = 0; i < HS; i++) x[i] = x[i] * s * w[i];
    }
}

void qk_norm_backward(double* dqkv, double* dq_weight, double* dk_weight, const double* qk_inp,
                      const double* q_weight, const double* k_weight, const double* rstd, int N,
                      int NH, int NKV, int HS) {
  const size_t QKV = (size_t)(NH + 2 * NKV) * HS, H = (size_t)NH + NKV;
  for (int n = 0; n < N; n++)
    for (size_t h = 0; h < H; h++) {
      double* d = dqkv + n * QKV + h * HS;
      const double* x = qk_inp + (n * H + h) * HS;
      const double* w = h < (size_t)NH ? q_weight : k_weight;
      double* dw = h < (size_t)NH ? dq_weight : dk_weight;
      const double s = rstd[n * H + h];
      double gn_mean = 0.0;
      for (int i = 0; i < HS; i++) gn_mean += w[i] * d[i] * x[i] * s;
      gn_mean /= HS;
      for (int i = 0; i < HS; i++) {
        const double norm = x[i] * s;
        if (dw) dw[i] += norm * d[i];
        d[i] = (w[i] * d[i] - norm * gn_mean) * s;
      }
    }
}

}  // namespace lmforge::ref
