// Reference (double, naive) token + position embedding. The oracle for cpu/embedding.cpp;
// deliberately unoptimized and unvalidated beyond what a plain loop needs. With pos (packed
// rows) the learned position row is wpe[pos[b,t]] instead of wpe[t].
#include "lmforge/backend/kernels.h"

namespace lmforge::ref {

void embedding_forward(double* out, const int32_t* ids, const double* wte, const double* wpe, int B,
                       int T, int C, const int32_t* pos) {
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < T; t++) {
      double* o = out + ((size_t)b * T + t) * C;
      const double* e = wte + (size_t)ids[b * T + t] * C;
      size_t p = pos ? (size_t)pos[b * T + t] : (size_t)t;
      for (int c = 0; c < C; c++) o[c] = e[c] + (wpe ? wpe[p * C + c] : 0.0);
    }
  }
}

void embedding_backward(double* dwte, double* dwpe, const double* dout, const int32_t* ids, int B,
                        int T, int C, const int32_t* pos) {
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < T; t++) {
      const double* d = dout + ((size_t)b * T + t) * C;
      double* g = dwte + (size_t)ids[b * T + t] * C;
      size_t p = pos ? (size_t)pos[b * T + t] : (size_t)t;
      for (int c = 0; c < C; c++) {
        g[c] += d[c];
        if (dwpe) dwpe[p * C + c] += d[c];
      }
    }
  }
}

}  // namespace lmforge::ref
