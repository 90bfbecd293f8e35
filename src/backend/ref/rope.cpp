// Reference (double, naive) rotary position embedding, Hugging Face "rotate half" layout: the
// pair (i, i+HS/2) of each q and k head is rotated by p·theta^(-2i/HS), p = pos[b,t] for packed
// rows, else pos0+t. The oracle for cpu/rope.cpp; recomputes every angle with pow/cos/sin.
#include <cmath>

#include "lmforge/backend/kernels.h"

namespace lmforge::ref {
namespace {
void rotate(double* qkv, int B, int T, int NH, int NKV, int HS, double theta, int pos0,
            const int32_t* pos, double sign) {
  int qkv_dim = (NH + 2 * NKV) * HS;
  int half = HS / 2;
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < T; t++) {
      double* row = qkv + ((size_t)b * T + t) * qkv_dim;
      double p = pos ? (double)pos[b * T + t] : (double)pos0 + t;
      for (int h = 0; h < NH + NKV; h++) {  // q heads then k heads are contiguous
        double* x = row + (size_t)h * HS;
        for (int i = 0; i < half; i++) {
          double angle = sign * p * std::pow(theta, -2.0 * i / HS);
          double c = std::cos(angle), s = std::sin(angle);
          double x1 = x[i], x2 = x[i + half];
          x[i] = x1 * c - x2 * s;
          x[i + half] = x2 * c + x1 * s;
        }
      }
    }
  }
}
}  // namespace

void rope_forward(double* qkv, int B, int T, int NH, int NKV, int HS, double theta, int pos0,
                  const int32_t* pos) {
  rotate(qkv, B, T, NH, NKV, HS, theta, pos0, pos, 1.0);
}

void rope_backward(double* dqkv, int B, int T, int NH, int NKV, int HS, double theta, int pos0,
                   const int32_t* pos) {
  // A rotation's Jacobian transpose is the rotation by the opposite angle.
  rotate(dqkv, B, T, NH, NKV, HS, theta, pos0, pos, -1.0);
}

}  // namespace lmforge::ref
