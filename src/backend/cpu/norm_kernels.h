// The LayerNorm and RMSNorm bodies, compiled once per ISA (isa_kernels.h): norm.cpp (baseline,
// cpu::avx2) and norm_avx512.cpp (cpu::avx512). Rows are independent in the forward; in the
// backward the weight/bias gradients are sums over rows, so each thread accumulates its rows
// into a private (C) buffer and the buffers are added once at the end (no atomics, and the
// result does not depend on scheduling beyond the fixed static split).
// Plain loops that GCC vectorizes at the including file's ISA; no std:: containers or other
// templates that could be emitted out of line (hence new[]/delete[] for the partials).
// Included with LMFORGE_CPU_ISA defined; no include guard on purpose.
#include <omp.h>

#include <cmath>

#include "isa_kernels.h"
#include "parallel.h"

namespace lmforge::cpu::LMFORGE_CPU_ISA {
// Adds each thread's partial sums into dst in thread order (deterministic for a thread count).
// dst may be null: a frozen weight (LoRA) has no gradient to accumulate.
static void reduce_partials(float* dst, const float* parts, int nt, int C) {
  if (!dst) return;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; c++) {
    float s = 0.0f;
    for (int t = 0; t < nt; t++) s += parts[(size_t)t * C + c];
    dst[c] += s;
  }
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > kMinParallelWork)
  for (int n = 0; n < N; n++) {
    const float* x = inp + (size_t)n * C;
    float* o = out + (size_t)n * C;
    float m = 0.0f;
#pragma omp simd reduction(+ : m)
    for (int c = 0; c < C; c++) m += x[c];
    m /= C;
    // Two-pass variance: no cancellation when |mean| >> std.
    float v = 0.0f;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
    v /= C;
    float s = 1.0f / std::sqrt(v + eps);
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int N, int C) {
  int nt = omp_get_max_threads();
  float* dw = new float[(size_t)nt * C]();  // per-thread partials (new[]: see file comment)
  float* db = new float[(size_t)nt * C]();
#pragma omp parallel num_threads(nt)
  {
    float* dw_t = dw + (size_t)omp_get_thread_num() * C;
    float* db_t = db + (size_t)omp_get_thread_num() * C;
#pragma omp for schedule(static)
    for (int n = 0; n < N; n++) {
      const float* x = inp + (size_t)n * C;
      const float* d = dout + (size_t)n * C;
      float* di = dinp + (size_t)n * C;
      float m = mean[n], s = rstd[n];
      float g_mean = 0.0f, gn_mean = 0.0f;
#pragma omp simd reduction(+ : g_mean, gn_mean)
      for (int c = 0; c < C; c++) {
        float g = weight[c] * d[c];
        g_mean += g;
        gn_mean += g * (x[c] - m) * s;
      }
      g_mean /= C;
      gn_mean /= C;
#pragma omp simd
      for (int c = 0; c < C; c++) {
        float norm = (x[c] - m) * s;
        di[c] += (weight[c] * d[c] - g_mean - norm * gn_mean) * s;
        dw_t[c] += norm * d[c];
        db_t[c] += d[c];
      }
    }
  }
  reduce_partials(dweight, dw, nt, C);
  reduce_partials(dbias, db, nt, C);
  delete[] dw;
  delete[] db;
}

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                     float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > kMinParallelWork)
  for (int n = 0; n < N; n++) {
    const float* x = inp + (size_t)n * C;
    float* o = out + (size_t)n * C;
    float ms = 0.0f;
#pragma omp simd reduction(+ : ms)
    for (int c = 0; c < C; c++) ms += x[c] * x[c];
    float s = 1.0f / std::sqrt(ms / C + eps);
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = x[c] * s * weight[c];
    rstd[n] = s;
  }
}

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C) {
  int nt = omp_get_max_threads();
  float* dw = new float[(size_t)nt * C]();
#pragma omp parallel num_threads(nt)
  {
    float* dw_t = dw + (size_t)omp_get_thread_num() * C;
#pragma omp for schedule(static)
    for (int n = 0; n < N; n++) {
      const float* x = inp + (size_t)n * C;
      const float* d = dout + (size_t)n * C;
      float* di = dinp + (size_t)n * C;
      float s = rstd[n];
      float gn_mean = 0.0f;
#pragma omp simd reduction(+ : gn_mean)
      for (int c = 0; c < C; c++) gn_mean += weight[c] * d[c] * x[c] * s;
      gn_mean /= C;
#pragma omp simd
      for (int c = 0; c < C; c++) {
        float norm = x[c] * s;
        di[c] += (weight[c] * d[c] - norm * gn_mean) * s;
        dw_t[c] += norm * d[c];
      }
    }
  }
  reduce_partials(dweight, dw, nt, C);
  delete[] dw;
}

}  // namespace lmforge::cpu::LMFORGE_CPU_ISA
