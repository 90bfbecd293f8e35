// Private to the CPU backend: which GEMM cpu::gemm runs (gemm.cpp), exposed so the tests and
// bench/gemm_bench.cpp can name and call each path.
#pragma once
#include "lmforge/backend/isa.h"

namespace lmforge::cpu {

// The fp32 GEMM libraries cpu::gemm can dispatch to.
enum class Fp32Gemm { avx2, blas, onednn };
const char* fp32_gemm_label(Fp32Gemm g);  // "avx2", "blas", "onednn" (as LMFORGE_GEMM spells them)

// The fp32 GEMM at the active ISA: LMFORGE_GEMM=blas|avx2|onednn if set, else the measured
// default for the level (gemm.cpp, docs/KERNELS.md). oneDNN is replaced by our AVX2 kernel when
// it cannot run at the active ISA (a test's IsaCap below oneDNN's process-wide cap).
Fp32Gemm fp32_gemm();

// Same contract as cpu::sgemm, through the named fp32 library.
void sgemm_with(Fp32Gemm g, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc);

// bf16 without bf16 instructions: A and B rounded to bf16 values (kept in floats, per-thread
// buffers reused across calls), then the fp32 GEMM fp32_gemm(). Same numbers as a native bf16
// GEMM up to the order of the fp32 summation.
void gemm_bf16_emulated(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                        const float* A, int lda, const float* B, int ldb, float beta, float* C,
                        int ldc);

// True when cpu::gemm runs bf16 on oneDNN's bf16 kernels (native bf16 at the active ISA and
// oneDNN running at that ISA); false: emulated.
bool bf16_on_onednn();

}  // namespace lmforge::cpu
