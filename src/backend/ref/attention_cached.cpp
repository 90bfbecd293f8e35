// Reference (double, naive) cached attention: for each query row and head, the full score row
// over keys 0..pos, a softmax, and the weighted sum of values. The oracle for
// cpu/attention_cached.cpp; never optimized.
#include <cmath>
#include <vector>

#include "lmforge/backend/kernels_infer.h"

namespace lmforge::ref {

void attention_cached_forward(double* out, const double* q, int ldq, const double* const* k,
                              const double* const* v, const int32_t* pos, int N, int NH, int NKV,
                              int HS, int maxT) {
  const double scale = 1.0 / std::sqrt((double)HS);
  std::vector<double> p;
  for (int r = 0; r < N; r++) {
    const int P = pos[r] + 1;  // keys 0..pos[r]
    for (int h = 0; h < NH; h++) {
      const int kvh = h / (NH / NKV);
      const double* qh = q + (size_t)r * ldq + (size_t)h * HS;
      const double* kh = k[r] + (size_t)kvh * maxT * HS;
      const double* vh = v[r] + (size_t)kvh * maxT * HS;
      p.assign(P, 0.0);
      double mx = -INFINITY;
      for (int j = 0; j < P; j++) {
        double s = 0.0;
        for (int i = 0; i < HS; i++) s += qh[i] * kh[(size_t)j * HS + i];
        p[j] = s * scale;
        mx = std::max(mx, p[j]);
      }
      double sum = 0.0;
      for (int j = 0; j < P; j++) sum += (p[j] = std::exp(p[j] - mx));
      double* o = out + (size_t)r * NH * HS + (size_t)h * HS;
      for (int i = 0; i < HS; i++) o[i] = 0.0;
      for (int j = 0; j < P; j++)
        for (int i = 0; i < HS; i++) o[i] += p[j] / sum * vh[(size_t)j * HS + i];
    }
  }
}

}  // namespace lmforge::ref
