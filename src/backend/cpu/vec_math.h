// Private to the CPU backend: branch-free float exp/tanh/sigmoid that GCC vectorizes inside
// `omp simd` loops (libm's expf/tanhf are opaque calls and keep those loops scalar). Accuracy:
// exp within ~2 ulp on [-87, 88] (Cephes polynomial after range reduction by ln 2), exactly 0
// below -87.3 (so exp(-inf) = 0); tanh/sigmoid derived from it. Not a general libm.
// GCC will not if-convert float comparisons under its default -ftrapping-math (a compare may
// raise FE_INVALID), so a loop calling these stays scalar; every file that includes this header
// therefore starts with #pragma GCC optimize("no-trapping-math"), which turns trapping-math off for
// that file only (we never read floating-point exception flags). Check with -fopt-info-vec.
#pragma once
#include <bit>
#include <cstdint>

namespace lmforge::cpu {

inline float exp_approx(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447504f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  // x = n·ln2 + r with |r| <= ln2/2; ln2 split in two so n·ln2_hi is exact.
  // Round to nearest by adding and subtracting 1.5·2^23 (floorf would be a libm call here).
  float fn = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - fn * 0.693359375f + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = ((int32_t)fn + 127) << 23;  // 2^n; n in [-126, 128) after the clamp
  float y = p * std::bit_cast<float>(bits);
  return x < lo ? 0.0f : y;
}

inline float tanh_approx(float x) {
  // 1 − 2/(e^{2x}+1) saturates cleanly to ±1 at both ends (no inf/inf).
  return 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f);
}

inline float sigmoid_approx(float x) {
  return 1.0f / (1.0f + exp_approx(-x));
}

}  // namespace lmforge::cpu
