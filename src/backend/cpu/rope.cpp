// CPU (float, OpenMP) rotary position embedding, HF "rotate half" layout. The cos/sin table
// (T, HS/2) is computed once per call in double: a float angle (pos·freq) loses ~1e-4 rad at
// positions in the thousands, which would show up as a parity error against PyTorch.
#include <cmath>
#include <vector>

#include "lmforge/backend/kernels.h"

namespace lmforge::cpu {
namespace {
void rotate(float* qkv, int B, int T, int NH, int NKV, int HS, float theta, int pos0, float sign) {
  int half = HS / 2;
  size_t qkv_dim = (size_t)(NH + 2 * NKV) * HS;
  std::vector<float> cos_t((size_t)T * half), sin_t((size_t)T * half);
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < half; i++) {
      double angle = (double)(pos0 + t) * std::pow((double)theta, -2.0 * i / HS);
      cos_t[(size_t)t * half + i] = (float)std::cos(angle);
      sin_t[(size_t)t * half + i] = sign * (float)std::sin(angle);
    }
  }
#pragma omp parallel for schedule(static)
  for (int64_t bt = 0; bt < (int64_t)B * T; bt++) {
    int t = (int)(bt % T);
    const float* cs = cos_t.data() + (size_t)t * half;
    const float* sn = sin_t.data() + (size_t)t * half;
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

void rope_forward(float* qkv, int B, int T, int NH, int NKV, int HS, float theta, int pos0) {
  rotate(qkv, B, T, NH, NKV, HS, theta, pos0, 1.0f);
}

void rope_backward(float* dqkv, int B, int T, int NH, int NKV, int HS, float theta, int pos0) {
  // A rotation's Jacobian transpose is the rotation by the opposite angle.
  rotate(dqkv, B, T, NH, NKV, HS, theta, pos0, -1.0f);
}

}  // namespace lmforge::cpu
