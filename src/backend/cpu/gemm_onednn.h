// Private to the CPU backend: the GEMM through oneDNN's matmul primitive (gemm_onednn.cpp),
// exposed so gemm.cpp can dispatch to it and the tests and bench/gemm_bench.cpp can call it
// directly.
#pragma once
#include <string>

#include "lmforge/backend/isa.h"

namespace lmforge::cpu {

// Same contract as cpu::sgemm (row-major C(M,N) = alpha·op(A)·op(B) + beta·C, fp32 in memory;
// beta == 0 never reads C). fp32: an f32 matmul reading A and B in place (transposes and leading
// dimensions are memory strides). bf16: A and B rounded to bf16 (nearest even) into per-thread
// buffers that are reused, then a bf16×bf16→f32 matmul. Requires M, N, K > 0 and alpha != 0
// (cpu::gemm handles the degenerate cases). Runs whatever oneDNN has at its ISA cap, even a slow
// reference implementation: cpu::gemm decides when to call it.
void gemm_onednn(backend::Precision p, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                 const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc);

// The level oneDNN dispatches at, fixed for the process at the first call (oneDNN accepts
// dnnl_set_max_cpu_isa once): backend::process_isa(), so LMFORGE_ISA=avx2 caps oneDNN at avx2
// too. A test's IsaCap cannot lower it: below it cpu::gemm does not call oneDNN.
backend::Isa onednn_isa();
// True when oneDNN runs at exactly the active ISA (see onednn_isa).
inline bool onednn_matches_active_isa() {
  return onednn_isa() == backend::active_isa();
}

// "onednn 2.6.3" (from dnnl_version(), i.e. the library actually loaded).
std::string onednn_name();

// The implementation oneDNN chooses for a GEMM of this kind, e.g. "brg:avx512_core_bf16" or
// "ref:any" (the bench prints it; the policy in gemm.cpp was decided with it).
std::string onednn_impl(backend::Precision p, bool trans_a, bool trans_b, int M, int N, int K);

}  // namespace lmforge::cpu
