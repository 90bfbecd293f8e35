// Private to the CPU backend: the AVX2/FMA SGEMM and the BLAS path, exposed so the tests and
// bench/gemm_bench.cpp can call each one directly and compare them.
#pragma once

namespace lmforge::cpu {

// Same contract as cpu::sgemm (row-major, C = alpha·op(A)·op(B) + beta·C).
void sgemm_blas(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                int lda, const float* B, int ldb, float beta, float* C, int ldc);
void sgemm_avx2(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                int lda, const float* B, int ldb, float beta, float* C, int ldc);

// True when the CPU supports AVX2+FMA and LMFORGE_GEMM is not "blas" (which keeps our kernels,
// the packed decode path included, out of the process). Whether cpu::gemm uses this kernel is
// decided in gemm.cpp (fp32_gemm()).
bool gemm_avx2_enabled();

}  // namespace lmforge::cpu
