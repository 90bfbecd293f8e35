// CPU (float, OpenMP) per-head q/k RMSNorm (Qwen3's q_norm / k_norm); the oracle is
// ref/qk_norm.cpp. The public kernels, dispatching to the AVX-512 twin (qk_norm_avx512.cpp) or
// the baseline build of the same bodies (qk_norm_kernels.h). The op reads and writes (NH+NKV)·HS
// floats per row, about 1% of the q/k/v projection's work.
// Only the backward takes the AVX-512 twin: bench/isa_bench small (Zen 5, 2 threads, load ~10,
// three runs, docs/KERNELS.md) gave the backward 1.01-1.14x at HS 64 and 1.09-1.80x at HS 128,
// the forward 0.74-1.06x and 0.57-1.08x: it streams x into the saved copy and back, and at 16
// lanes a 64-byte access at a 16-byte-aligned head splits a cache line (as the norm backwards,
// norm.cpp). The forward's twin is built but not called.
#define LMFORGE_CPU_ISA avx2
#include "qk_norm_kernels.h"

namespace lmforge::cpu {

void qk_norm_forward(float* qkv, float* qk_inp, float* rstd, const float* q_weight,
                     const float* k_weight, int N, int NH, int NKV, int HS, float eps) {
  avx2::qk_norm_forward(qkv, qk_inp, rstd, q_weight, k_weight, N, NH, NKV, HS, eps);
}

void qk_norm_backward(float* dqkv, float* dq_weight, float* dk_weight, const float* qk_inp,
                      const float* q_weight, const float* k_weight, const float* rstd, int N,
                      int NH, int NKV, int HS) {
  if (use_avx512())
    return avx512::qk_norm_backward(dqkv, dq_weight, dk_weight, qk_inp, q_weight, k_weight, rstd, N,
                                    NH, NKV, HS);
  avx2::qk_norm_backward(dqkv, dq_weight, dk_weight, qk_inp, q_weight, k_weight, rstd, N, NH, NKV,
                         HS);
}

}  // namespace lmforge::cpu
