// CPU (float) fully connected layer on top of cpu::sgemm; weight (OC,IC) as nn.Linear, so the
// forward is inp·weightᵀ and the weight gradient doutᵀ·inp accumulates with beta = 1.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "lmforge/backend/kernels.h"

namespace lmforge::cpu {

void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int N,
                    int IC, int OC) {
  if (bias) {
    // Seed every row with the bias and let the GEMM accumulate on top (beta = 1).
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
      float* o = out + (size_t)n * OC;
#pragma omp simd
      for (int c = 0; c < OC; c++) o[c] = bias[c];
    }
  }
  sgemm(false, true, N, OC, IC, 1.0f, inp, IC, weight, IC, bias ? 1.0f : 0.0f, out, OC);
}

void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int IC, int OC) {
  if (dinp) sgemm(false, false, N, IC, OC, 1.0f, dout, OC, weight, IC, 0.0f, dinp, IC);
  if (dweight) sgemm(true, false, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
  if (dbias) {
    // Column sums: each thread owns a slice of OC, so no reduction across threads is needed.
#pragma omp parallel
    {
      int nt = omp_get_num_threads(), tid = omp_get_thread_num();
      int chunk = ((OC + nt - 1) / nt + 15) / 16 * 16;
      int o0 = std::min(OC, tid * chunk), o1 = std::min(OC, o0 + chunk);
      if (o0 < o1) {
        std::vector<float> acc(o1 - o0, 0.0f);
        for (int n = 0; n < N; n++) {
          const float* d = dout + (size_t)n * OC;
#pragma omp simd
          for (int o = o0; o < o1; o++) acc[o - o0] += d[o];
        }
        for (int o = o0; o < o1; o++) dbias[o] += acc[o - o0];
      }
    }
  }
}

}  // namespace lmforge::cpu
