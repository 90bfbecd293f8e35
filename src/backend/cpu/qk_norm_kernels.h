// The per-head q/k RMSNorm bodies (Qwen3's q_norm / k_norm), compiled once per ISA
// (isa_kernels.h): qk_norm.cpp (baseline, cpu::avx2) and qk_norm_avx512.cpp (cpu::avx512).
// Rows are independent: the forward parallelizes over them; the backward keeps per-thread
// partial sums of the two (HS) weight gradients and adds them in thread order at the end (HS is
// small, 64-256, so the reduction is negligible). Plain loops with `omp simd` that GCC vectorizes
// at the including file's ISA; no std:: containers or other templates that could be emitted out
// of line (hence new[]/delete[] for the partials). Included with LMFORGE_CPU_ISA defined; no
// include guard on purpose.
#include <omp.h>

#include <cmath>

#include "isa_kernels.h"
#include "parallel.h"

namespace lmforge::cpu::LMFORGE_CPU_ISA {

void qk_norm_forward(float* qkv, float* qk_inp, float* rstd, const float* q_weight,
                     const float* k_weight, int N, int NH, int NKV, int HS, float eps) {
  const size_t QKV = (size_t)(NH + 2 * NKV) * HS, H = (size_t)NH + NKV;
#pragma omp parallel for schedule(static) if ((size_t)N * H * HS > kMinParallelWork)
  for (int n = 0; n < N; n++)
    for (size_t h = 0; h < H; h++) {
      float* x = qkv + n * QKV + h * HS;
      const float* w = h < (size_t)NH ? q_weight : k_weight;
      float ms = 0.0f;
#pragma omp simd reduction(+ : ms)
      for (int i = 0; i < HS; i++) ms += x[i] * x[i];
      const float s = 1.0f / std::sqrt(ms / HS + eps);
      if (qk_inp) {
        float* keep = qk_inp + (n * H + h) * HS;
#pragma omp simd
        for (int i = 0; i < HS; i++) keep[i] = x[i];
      }
      if (rstd) rstd[n * H + h] = s;
#pragma omp simd
      for (int i = 0; i < HS; i++) x[i] = x[i] * s * w[i];
    }
}

void qk_norm_backward(float* dqkv, float* dq_weight, float* dk_weight, const float* qk_inp,
                      const float* q_weight, const float* k_weight, const float* rstd, int N,
                      int NH, int NKV, int HS) {
  const size_t QKV = (size_t)(NH + 2 * NKV) * HS, H = (size_t)NH + NKV;
  const bool want_dw = dq_weight || dk_weight;
  const int nt = (size_t)N * H * HS > kMinParallelWork ? omp_get_max_threads() : 1;
  // Per thread: [dq | dk] (new[]: see the file comment).
  float* partial = want_dw ? new float[(size_t)nt * 2 * HS]() : nullptr;
#pragma omp parallel num_threads(nt)
  {
    float* dw_t = partial ? partial + (size_t)omp_get_thread_num() * 2 * HS : nullptr;
#pragma omp for schedule(static)
    for (int n = 0; n < N; n++)
      for (size_t h = 0; h < H; h++) {
        float* d = dqkv + n * QKV + h * HS;
        const float* x = qk_inp + (n * H + h) * HS;
        const bool is_q = h < (size_t)NH;
        const float* w = is_q ? q_weight : k_weight;
        float* dw = dw_t ? dw_t + (is_q ? 0 : HS) : nullptr;
        const float s = rstd[n * H + h];
        float gn_mean = 0.0f;
#pragma omp simd reduction(+ : gn_mean)
        for (int i = 0; i < HS; i++) gn_mean += w[i] * d[i] * x[i] * s;
        gn_mean /= HS;
        if (dw) {
#pragma omp simd
          for (int i = 0; i < HS; i++) dw[i] += x[i] * s * d[i];
        }
#pragma omp simd
        for (int i = 0; i < HS; i++) d[i] = (w[i] * d[i] - x[i] * s * gn_mean) * s;
      }
  }
  for (int t = 0; t < (partial ? nt : 0); t++)
    for (int i = 0; i < HS; i++) {
      if (dq_weight) dq_weight[i] += partial[(size_t)t * 2 * HS + i];
      if (dk_weight) dk_weight[i] += partial[(size_t)t * 2 * HS + HS + i];
    }
  delete[] partial;
}

}  // namespace lmforge::cpu::LMFORGE_CPU_ISA
