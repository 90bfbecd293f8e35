// CPU (float, OpenMP) elementwise kernels: the public kernels, dispatching to the AVX-512 twin
// (elementwise_avx512.cpp) or the baseline build of the same bodies (elementwise_kernels.h).
// add_inplace and scale_inplace stay on the AVX2 build on every CPU: a 64-byte vector at a 16-byte
// aligned address splits a cache line on every access, and add_inplace measured 0.68-0.74x at 16
// lanes (bench/isa_bench small, Zen 5, two runs). AdamW gains a little (1.03-1.06x, memory-bound).
#pragma GCC optimize("no-math-errno")  // sqrt without the errno branch: AdamW vectorizes
#define LMFORGE_CPU_ISA avx2
#include "elementwise_kernels.h"

namespace lmforge::cpu {

void add_inplace(float* acc, const float* x, size_t n) {
  avx2::add_inplace(acc, x, n);
}

void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, int64_t step) {
  if (use_avx512())
    return avx512::adamw_update(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, step);
  avx2::adamw_update(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, step);
}

double sum_squares(const float* x, size_t n) {
  return use_avx512() ? avx512::sum_squares(x, n) : avx2::sum_squares(x, n);
}

void scale_inplace(float* x, float s, size_t n) {
  avx2::scale_inplace(x, s, n);
}

}  // namespace lmforge::cpu
