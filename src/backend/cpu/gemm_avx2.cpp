// Placeholder until the AVX2/FMA kernel lands: routes to BLAS and is never the default.
#include "gemm_avx2.h"

namespace lmforge::cpu {
void sgemm_avx2(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  sgemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
bool gemm_avx2_enabled() { return false; }
}  // namespace lmforge::cpu
