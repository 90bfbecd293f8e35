// The GELU (tanh approximation) and SwiGLU bodies, compiled once per ISA (isa_kernels.h):
// activation.cpp (baseline, cpu::avx2) and activation_avx512.cpp (cpu::avx512), vectorized
// through vec_math.h. GELU is evaluated as x·σ(2u) (since ½(1+tanh u) = σ(2u)) with
// 1−σ(2u) = e·σ(2u), e = exp(−2u): both stay relatively accurate in the negative tail, where
// 1+tanh(u) would cancel to zero. Elementwise: the same values on every ISA path.
// Included with LMFORGE_CPU_ISA defined (and no-trapping-math, see vec_math.h); no include guard.
#include <cmath>

#include "isa_kernels.h"
#include "parallel.h"
#include "vec_math.h"

namespace lmforge::cpu::LMFORGE_CPU_ISA {
constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2/pi)

void gelu_forward(float* out, const float* inp, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > kMinParallelWork)
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    float e = exp_approx(-2.0f * kGeluC * (x + 0.044715f * x * x * x));
    out[i] = x / (1.0f + e);
  }
}

void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    float e = exp_approx(-2.0f * kGeluC * (x + 0.044715f * x * x * x));
    float s = 1.0f / (1.0f + e);
    float du = kGeluC * (1.0f + 3.0f * 0.044715f * x * x);
    // d/dx x·σ(2u) = σ + 2x·u'·σ(1−σ)
    dinp[i] = dout[i] * s * (1.0f + 2.0f * x * du * (e * s));  // e·s first: e alone may be ~1e38
  }
}

void swiglu_forward(float* out, const float* gate_up, int N, int FF) {
#pragma omp parallel for schedule(static) if ((size_t)N * FF > kMinParallelWork)
  for (int n = 0; n < N; n++) {
    const float* g = gate_up + (size_t)n * 2 * FF;
    const float* u = g + FF;
    float* o = out + (size_t)n * FF;
#pragma omp simd
    for (int i = 0; i < FF; i++) o[i] = g[i] * sigmoid_approx(g[i]) * u[i];
  }
}

void swiglu_backward(float* dgate_up, const float* dout, const float* gate_up, int N, int FF) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const float* g = gate_up + (size_t)n * 2 * FF;
    const float* u = g + FF;
    const float* d = dout + (size_t)n * FF;
    float* dg = dgate_up + (size_t)n * 2 * FF;
    float* du = dg + FF;
#pragma omp simd
    for (int i = 0; i < FF; i++) {
      float s = sigmoid_approx(g[i]);
      dg[i] = d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
      du[i] = d[i] * g[i] * s;
    }
  }
}

}  // namespace lmforge::cpu::LMFORGE_CPU_ISA
