// Reference (double, naive) elementwise kernels: residual add, AdamW, sum of squares, scale.
// The oracle for cpu/elementwise.cpp.
#include <cmath>

#include "lmforge/backend/kernels.h"

namespace lmforge::ref {

void add_inplace(double* acc, const double* x, size_t n) {
  for (size_t i = 0; i < n; i++) acc[i] += x[i];
}

void adamw_update(double* param, const double* grad, double* m, double* v, size_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int64_t step) {
  // torch.optim.AdamW order: decay first (p *= 1 − lr·wd), then p −= lr·m̂/(√v̂ + eps).
  double bc1 = 1.0 - std::pow(beta1, (double)step);
  double bc2 = 1.0 - std::pow(beta2, (double)step);
  for (size_t i = 0; i < n; i++) {
    m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i];
    v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i];
    double mhat = m[i] / bc1, vhat = v[i] / bc2;
    param[i] *= 1.0 - lr * weight_decay;
    param[i] -= lr * mhat / (std::sqrt(vhat) + eps);
  }
}

double sum_squares(const double* x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

void scale_inplace(double* x, double s, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] *= s;
}

}  // namespace lmforge::ref
