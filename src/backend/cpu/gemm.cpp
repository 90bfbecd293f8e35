// cpu::gemm: the one GEMM entry point of the CPU backend (linear layers, LoRA, benchmarks), in
// fp32 or bf16, and the policy that picks the library for each (precision, active ISA):
//   bf16  oneDNN's bf16 matmul where the active ISA has bf16 instructions (avx512_bf16,
//         amx_bf16), else emulated: inputs rounded to bf16 values, then the fp32 GEMM.
//   fp32  kFp32Default below (measured, docs/KERNELS.md), or LMFORGE_GEMM=blas|avx2|onednn.
// cpu::sgemm is gemm(fp32, ...). Not a general BLAS: row-major only, no complex, no batching.
#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "gemm_avx2.h"
#include "gemm_dispatch.h"
#include "gemm_onednn.h"
#include "lmforge/backend/bf16.h"
#include "lmforge/backend/isa.h"
#include "lmforge/backend/kernels.h"

namespace lmforge::cpu {
namespace {

using backend::Isa;
using backend::Precision;

// The fp32 GEMM per active ISA level (avx2, avx512, avx512_bf16, amx_bf16): oneDNN at every
// level, from bench/gemm_precision_bench and bench/gemm_bench on the 2-core Zen 5 with each level
// forced (docs/KERNELS.md, "fp32 GEMM per ISA", 2026-12-02). Alone, one thread, CPU time: at avx2
// oneDNN's jit sgemm was 7% ahead of our kernel over the 30 "tiny"/"small" training shapes and
// 1.5-10x ahead at 1-64 rows; from avx512 up oneDNN and OpenBLAS were level (~2x our AVX2 kernel).
// In context (MLP block fwd+bwd, 2 threads) oneDNN was 1.12x ours at avx2 and 1.5-2x OpenBLAS at
// avx512+: it runs on OpenMP's threads (Debian builds it with the OpenMP runtime) where
// OpenBLAS's pthreads pool contends with them, and it honours LMFORGE_ISA (OpenBLAS picks its own
// kernel). Our AVX2 kernel stays as LMFORGE_GEMM=avx2 and as the fallback under a test's IsaCap.
constexpr Fp32Gemm kFp32Default[] = {Fp32Gemm::onednn, Fp32Gemm::onednn, Fp32Gemm::onednn,
                                     Fp32Gemm::onednn};

// LMFORGE_GEMM, read once; unset or unknown (noted on stderr) -> nullptr.
const Fp32Gemm* env_gemm() {
  static const std::unique_ptr<Fp32Gemm> forced = []() -> std::unique_ptr<Fp32Gemm> {
    const char* env = std::getenv("LMFORGE_GEMM");
    if (!env || !*env) return nullptr;
    for (Fp32Gemm g : {Fp32Gemm::avx2, Fp32Gemm::blas, Fp32Gemm::onednn})
      if (std::strcmp(env, fp32_gemm_label(g)) == 0) return std::make_unique<Fp32Gemm>(g);
    std::fprintf(stderr, "lmforge: ignoring LMFORGE_GEMM=%s (use avx2, blas or onednn)\n", env);
    return nullptr;
  }();
  return forced.get();
}

// A per-thread float buffer that only grows (the emulated bf16 path's rounded inputs).
float* thread_floats(int which, size_t n) {
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<float, Free> buf[2];
  thread_local size_t size[2] = {0, 0};
  if (n > size[which]) {
    size[which] = (n + 1023) / 1024 * 1024;
    buf[which].reset(static_cast<float*>(std::aligned_alloc(64, size[which] * sizeof(float))));
  }
  return buf[which].get();
}

}  // namespace

const char* fp32_gemm_label(Fp32Gemm g) {
  switch (g) {
    case Fp32Gemm::avx2:
      return "avx2";
    case Fp32Gemm::blas:
      return "blas";
    case Fp32Gemm::onednn:
      return "onednn";
  }
  return "?";
}

Fp32Gemm fp32_gemm() {
  const Fp32Gemm* forced = env_gemm();
  Fp32Gemm g = forced ? *forced : kFp32Default[int(backend::active_isa())];
  if (g == Fp32Gemm::avx2 && !gemm_avx2_enabled()) g = Fp32Gemm::blas;
  if (g == Fp32Gemm::onednn && !onednn_matches_active_isa()) g = Fp32Gemm::avx2;
  return g;
}

bool bf16_on_onednn() {
  return backend::native_bf16() && onednn_matches_active_isa();
}

void sgemm_with(Fp32Gemm g, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  switch (g) {
    case Fp32Gemm::avx2:
      return sgemm_avx2(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    case Fp32Gemm::blas:
      return sgemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    case Fp32Gemm::onednn:
      return gemm_onednn(Precision::fp32, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C,
                         ldc);
  }
}

void gemm_bf16_emulated(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                        const float* A, int lda, const float* B, int ldb, float beta, float* C,
                        int ldc) {
  const int a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
  const int b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
  float* a = thread_floats(0, (size_t)a_rows * a_cols);
  float* b = thread_floats(1, (size_t)b_rows * b_cols);
  round_floats_to_bf16(a, A, a_rows, a_cols, lda);
  round_floats_to_bf16(b, B, b_rows, b_cols, ldb);
  sgemm_with(fp32_gemm(), trans_a, trans_b, M, N, K, alpha, a, a_cols, b, b_cols, beta, C, ldc);
}

void gemm(Precision p, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
          int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {  // C = beta·C; A and B are not read (as BLAS)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++)
        C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
    return;
  }
  if (p == Precision::bf16) {
    if (bf16_on_onednn())
      gemm_onednn(Precision::bf16, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
      gemm_bf16_emulated(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  sgemm_with(fp32_gemm(), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  gemm(Precision::fp32, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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
  using cpu::Fp32Gemm;
  if (p == Precision::bf16 && cpu::bf16_on_onednn()) return cpu::onednn_name();
  switch (cpu::fp32_gemm()) {  // fp32, and emulated bf16 (which runs the fp32 GEMM)
    case Fp32Gemm::avx2:
      return "lmforge avx2";
    case Fp32Gemm::blas:
      return "openblas";
    case Fp32Gemm::onednn:
      return cpu::onednn_name();
  }
  return "?";
}

}  // namespace lmforge::backend
