// CPU (float, OpenMP) token + position embedding. Forward is a parallel row copy; backward
// scatters into dwte, where two tokens with the same id would race, so threads split the
// channels instead of the tokens (every thread walks all tokens over its own column slice).
#include <omp.h>

#include <algorithm>

#include "lmforge/backend/kernels.h"

namespace lmforge::cpu {

void embedding_forward(float* out, const int32_t* ids, const float* wte, const float* wpe, int B,
                       int T, int C) {
#pragma omp parallel for schedule(static)
  for (int64_t bt = 0; bt < (int64_t)B * T; bt++) {
    int t = (int)(bt % T);
    float* o = out + bt * C;
    const float* e = wte + (size_t)ids[bt] * C;
    if (wpe) {
      const float* p = wpe + (size_t)t * C;
#pragma omp simd
      for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
    } else {
      std::copy(e, e + C, o);
    }
  }
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* ids, int B,
                        int T, int C) {
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), tid = omp_get_thread_num();
    // Column slices in multiples of 16 floats so threads never share a cache line mid-row.
    int chunk = ((C + nt - 1) / nt + 15) / 16 * 16;
    int c0 = std::min(C, tid * chunk), c1 = std::min(C, c0 + chunk);
    for (int64_t bt = 0; bt < (int64_t)B * T && c0 < c1; bt++) {
      const float* d = dout + bt * C;
      float* g = dwte + (size_t)ids[bt] * C;
#pragma omp simd
      for (int c = c0; c < c1; c++) g[c] += d[c];
      if (dwpe) {
        float* gp = dwpe + (size_t)(bt % T) * C;
#pragma omp simd
        for (int c = c0; c < c1; c++) gp[c] += d[c];
      }
    }
  }
}

}  // namespace lmforge::cpu
