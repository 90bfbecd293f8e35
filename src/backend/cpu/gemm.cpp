// cpu::sgemm: the one GEMM entry point of the CPU backend (linear layers, benchmarks). It
// dispatches to our AVX2/FMA kernel (gemm_avx2.cpp) when the CPU has it and it is enabled, and to
// OpenBLAS's cblas_sgemm otherwise. Not a general BLAS: row-major only, no complex, no batching.
#include <cblas.h>

#include <string>
#include <vector>

#include "lmforge/backend/bf16.h"

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

// bf16 emulated: the operands rounded to bf16 values in fp32 buffers, then the fp32 GEMM (products
// of bf16 values are exact in fp32, so only the summation order differs from a bf16 GEMM).
void gemm(backend::Precision p, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
          const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (p == backend::Precision::fp32 || M <= 0 || N <= 0 || K <= 0)
    return sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  // Elements spanned by each operand (the last row needs only its own columns, not the stride).
  const size_t na = size_t((trans_a ? K : M) - 1) * lda + (trans_a ? M : K);
  const size_t nb = size_t((trans_b ? N : K) - 1) * ldb + (trans_b ? K : N);
  std::vector<float> a(na), b(nb);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < na; i++) a[i] = round_to_bf16(A[i]);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < nb; i++) b[i] = round_to_bf16(B[i]);
  sgemm(trans_a, trans_b, M, N, K, alpha, a.data(), lda, b.data(), ldb, beta, C, ldc);
}

}  // namespace lmforge::cpu

namespace lmforge::backend {

std::string gemm_name(Precision p) {
  (void)p;  // bf16 is emulated through the fp32 GEMM until a bf16 GEMM is wired in
  return cpu::gemm_avx2_enabled() ? "lmforge avx2" : "openblas";
}

}  // namespace lmforge::backend
