// CPU (float, OpenMP) GELU and SwiGLU: the public kernels, dispatching to the AVX-512 twin
// (activation_avx512.cpp) or the baseline build of the same bodies (activation_kernels.h).
#pragma GCC optimize("no-trapping-math")  // see vec_math.h: lets exp loops vectorize
#define LMFORGE_CPU_ISA avx2
#include "activation_kernels.h"

namespace lmforge::cpu {

void gelu_forward(float* out, const float* inp, size_t n) {
  if (use_avx512()) return avx512::gelu_forward(out, inp, n);
  avx2::gelu_forward(out, inp, n);
}

void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n) {
  if (use_avx512()) return avx512::gelu_backward(dinp, inp, dout, n);
  avx2::gelu_backward(dinp, inp, dout, n);
}

void swiglu_forward(float* out, const float* gate_up, int N, int FF) {
  if (use_avx512()) return avx512::swiglu_forward(out, gate_up, N, FF);
  avx2::swiglu_forward(out, gate_up, N, FF);
}

void swiglu_backward(float* dgate_up, const float* dout, const float* gate_up, int N, int FF) {
  if (use_avx512()) return avx512::swiglu_backward(dgate_up, dout, gate_up, N, FF);
  avx2::swiglu_backward(dgate_up, dout, gate_up, N, FF);
}

}  // namespace lmforge::cpu
