// CPU (float, OpenMP) token + position embedding. Forward is a parallel row copy; backward
// scatters into dwte, where two tokens with the same id would race, so threads split the
// channels instead of the tokens (every thread walks all tokens over its own column slice).
// The same split makes packed rows safe: with pos, many tokens (every document's first, ...)
// add into the same dwpe row. pos values are checked to be >= 0 (wpe's row count maxT is not
// passed, so pos < maxT, like ids < V, is the caller's duty).
#include <omp.h>

#include <algorithm>
#include <string>

#include "lmforge/backend/kernels.h"
#include "lmforge/core/error.h"
#include "parallel.h"

namespace lmforge::cpu {
namespace {
// Outside the parallel regions: an exception must not leave an OpenMP region.
void check_pos(const int32_t* pos, int64_t n, const char* op) {
  for (int64_t i = 0; i < n; i++)
    if (pos[i] < 0)
      throw RuntimeError(std::string("[") + op + "] pos[" + std::to_string(i) +
                         "] = " + std::to_string(pos[i]) + " is negative");
}
}  // namespace

void embedding_forward(float* out, const int32_t* ids, const float* wte, const float* wpe, int B,
                       int T, int C, const int32_t* pos) {
  if (pos && wpe) check_pos(pos, (int64_t)B * T, "embedding_forward");
#pragma omp parallel for schedule(static) if ((size_t)B * T * C > kMinParallelWork)
  for (int64_t bt = 0; bt < (int64_t)B * T; bt++) {
    float* o = out + bt * C;
    const float* e = wte + (size_t)ids[bt] * C;
    if (wpe) {
      const float* p = wpe + (size_t)(pos ? pos[bt] : (int)(bt % T)) * C;
#pragma omp simd
      for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
    } else {
      std::copy(e, e + C, o);
    }
  }
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* ids, int B,
                        int T, int C, const int32_t* pos) {
  if (pos && dwpe) check_pos(pos, (int64_t)B * T, "embedding_backward");
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
        float* gp = dwpe + (size_t)(pos ? pos[bt] : (int)(bt % T)) * C;
#pragma omp simd
        for (int c = c0; c < c1; c++) gp[c] += d[c];
      }
    }
  }
}

}  // namespace lmforge::cpu
