// cpu::sgemm: the one GEMM entry point of the CPU backend (linear layers, benchmarks). It
// dispatches to our AVX2/FMA kernel (gemm_avx2.cpp) when the CPU has it and it is enabled, and to
// OpenBLAS's cblas_sgemm otherwise. Not a general BLAS: row-major only, no complex, no batching.
#include <cblas.h>

#include <string>

#include "gemm_avx2.h"
#include "lmforge/backend/isa.h"
#include "lmforge/backend/kernels.h"

namespace lmforge::cpu {

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (gemm_avx2_enabled()) {
    sgemm_avx2(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  sgemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_blas(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace lmforge::cpu

namespace lmforge::backend {

std::string gemm_name(Precision p) {
  (void)p;  // bf16 is emulated through the fp32 GEMM until a bf16 GEMM is wired in
  return cpu::gemm_avx2_enabled() ? "lmforge avx2" : "openblas";
}

}  // namespace lmforge::backend
