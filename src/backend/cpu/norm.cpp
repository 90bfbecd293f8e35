// CPU (float, OpenMP) LayerNorm and RMSNorm: the public kernels, dispatching to the AVX-512 twin
// (norm_avx512.cpp) or the baseline build of the same bodies (norm_kernels.h).
// The backward passes stay on the AVX2 build on every CPU: at 16 lanes they were slower
// (bench/isa_bench small, Zen 5, two runs: layernorm 0.80-0.84x, rmsnorm 0.82-0.94x; they stream
// dinp and the per-thread dweight rows, and a 64-byte vector at a 16-byte-aligned address splits
// a cache line on every access). The forwards gain 1.3-1.6x.
#define LMFORGE_CPU_ISA avx2
#include "norm_kernels.h"

namespace lmforge::cpu {

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, float eps) {
  if (use_avx512()) return avx512::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
  avx2::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int N, int C) {
  avx2::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                     float eps) {
  if (use_avx512()) return avx512::rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
  avx2::rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
}

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C) {
  avx2::rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
}

}  // namespace lmforge::cpu
