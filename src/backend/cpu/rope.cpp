// CPU (float, OpenMP) rotary position embedding, HF "rotate half" layout. The cos/sin table
// (rows, HS/2) is computed once per call in double: a float angle (pos·freq) loses ~1e-4 rad at
// positions in the thousands, which would show up as a parity error against PyTorch.
// Rows of the table: positions pos0..pos0+T-1 without pos; with pos (packed rows), the range
// min(pos)..max(pos) when it has at most B·T positions (packed documents: at most T), else one
// row per token (arbitrary positions never cost more than B·T table rows).
// A decode step's few rows run on the calling thread (kMinParallelWork, parallel.h): each loop
// was a parallel region of its own, two per layer.
#include <algorithm>
#include <cmath>
#include <vector>

#include "lmforge/backend/kernels.h"
#include "parallel.h"

namespace lmforge::cpu {
namespace {
void rotate(float* qkv, int B, int T, int NH, int NKV, int HS, float theta, int pos0,
            const int32_t* pos, float sign) {
  int half = HS / 2;
  size_t qkv_dim = (size_t)(NH + 2 * NKV) * HS;
  const int64_t N = (int64_t)B * T;
  // Table row r holds position base + r (per_token: position pos[r]).
  int64_t rows = T, base = pos0;
  bool per_token = false;
  if (pos && N > 0) {
    auto [lo, hi] = std::minmax_element(pos, pos + N);
    rows = (int64_t)*hi - *lo + 1;
    base = *lo;
    if (rows > N) {
      rows = N;
      per_token = true;
    }
  }
  std::vector<float> cos_t((size_t)rows * half), sin_t((size_t)rows * half);
// A table entry (pow, cos and sin in double) weighs as ~64 float operations.
#pragma omp parallel for schedule(static) if ((size_t)rows * half * 64 > kMinParallelWork)
  for (int64_t r = 0; r < rows; r++) {
    double p = per_token ? (double)pos[r] : (double)(base + r);
    for (int i = 0; i < half; i++) {
      double angle = p * std::pow((double)theta, -2.0 * i / HS);
      cos_t[(size_t)r * half + i] = (float)std::cos(angle);
      sin_t[(size_t)r * half + i] = sign * (float)std::sin(angle);
    }
  }
#pragma omp parallel for schedule(static) if ((size_t)N * (NH + NKV) * HS > kMinParallelWork)
  for (int64_t bt = 0; bt < N; bt++) {
    int64_t r = !pos ? bt % T : per_token ? bt : pos[bt] - base;
    const float* cs = cos_t.data() + (size_t)r * half;
    const float* sn = sin_t.data() + (size_t)r * half;
    float* row = qkv + bt * qkv_dim;
    for (int h = 0; h < NH + NKV; h++) {  // q heads then k heads are contiguous
      float* x = row + (size_t)h * HS;
#pragma omp simd
      for (int i = 0; i < half; i++) {
        float x1 = x[i], x2 = x[i + half];
        x[i] = x1 * cs[i] - x2 * sn[i];
        x[i + half] = x2 * cs[i] + x1 * sn[i];
      }
    }
  }
}
}  // namespace

void rope_forward(float* qkv, int B, int T, int NH, int NKV, int HS, float theta, int pos0,
                  const int32_t* pos) {
  rotate(qkv, B, T, NH, NKV, HS, theta, pos0, pos, 1.0f);
}

void rope_backward(float* dqkv, int B, int T, int NH, int NKV, int HS, float theta, int pos0,
                   const int32_t* pos) {
  // A rotation's Jacobian transpose is the rotation by the opposite angle.
  rotate(dqkv, B, T, NH, NKV, HS, theta, pos0, pos, -1.0f);
}

}  // namespace lmforge::cpu
