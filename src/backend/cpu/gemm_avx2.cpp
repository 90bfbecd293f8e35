// Our AVX2/FMA SGEMM, so the CPU backend's speed does not hinge on which kernel OpenBLAS
// dispatches to (OPENBLAS_CORETYPE, library build). Classic Goto/BLIS structure:
//   for each NC column block of C, for each KC slice of K:
//     pack op(B)[KC×NC] into 16-wide column strips (shared by all threads),
//     each thread takes MC row blocks, packs alpha·op(A)[MC×KC] into 6-high row strips and runs
//     a 6×16 register micro-kernel (12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of 16
//     registers) over every (6-row strip, 16-column strip) pair.
// Packing makes all four transpose cases the same kernel. Edge tiles are computed into a
// scratch tile and merged. Functions carry target("avx2,fma") so the file builds and the
// library runs without -march=native; callers must check gemm_avx2_enabled() first.
// Not here: AVX-512, bf16, small-matrix special cases.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "gemm_avx2.h"

namespace lmforge::cpu {
namespace {
constexpr int MR = 6, NR = 16;
// KC·NR·4 = 16 KiB B strip stays in L1 across a row block; MC·KC·4 ≤ 144 KiB A block in L2
// (Zen 3: 32 KiB L1d, 512 KiB L2); NC bounds the shared packed B (KC·NC·4 = 3 MiB) in L3.
constexpr int KC = 256, MC_MAX = 144, NC = 3072;
// Whether our kernel is the default on AVX2 machines; set from bench/gemm_bench.cpp numbers
// recorded in docs/KERNELS.md (LMFORGE_GEMM=blas|avx2 overrides at run time).
constexpr bool kAvx2GemmDefault = false;

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;
Buffer alloc_floats(size_t n) {
  return Buffer(static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64)));
}

// alpha·op(A)[i0:i0+mc, p0:p0+kc] → strips of MR rows, each kc×MR (k-major), zero padded.
void pack_a(float* dst, bool ta, const float* A, int lda, int i0, int mc, int p0, int kc,
            float alpha) {
  for (int ir = 0; ir < mc; ir += MR) {
    int mr = std::min(MR, mc - ir);
    float* strip = dst + (size_t)ir * kc;
    if (ta) {  // op(A)(i,k) = A[k·lda + i]: MR contiguous floats per k
      for (int k = 0; k < kc; k++) {
        const float* src = A + (size_t)(p0 + k) * lda + i0 + ir;
        for (int r = 0; r < mr; r++) strip[k * MR + r] = alpha * src[r];
        for (int r = mr; r < MR; r++) strip[k * MR + r] = 0.0f;
      }
    } else {
      for (int r = 0; r < MR; r++) {
        if (r < mr) {
          const float* src = A + (size_t)(i0 + ir + r) * lda + p0;
          for (int k = 0; k < kc; k++) strip[k * MR + r] = alpha * src[k];
        } else {
          for (int k = 0; k < kc; k++) strip[k * MR + r] = 0.0f;
        }
      }
    }
  }
}

// op(B)[p0:p0+kc, j0+jr : j0+jr+NR] → one kc×NR strip (k-major), zero padded.
void pack_b_strip(float* strip, bool tb, const float* B, int ldb, int p0, int kc, int j, int nr) {
  if (!tb) {  // op(B)(k,j) = B[k·ldb + j]: NR contiguous floats per k
    for (int k = 0; k < kc; k++) {
      const float* src = B + (size_t)(p0 + k) * ldb + j;
      float* d = strip + (size_t)k * NR;
      if (nr == NR) {
        std::memcpy(d, src, NR * sizeof(float));
      } else {
        for (int c = 0; c < nr; c++) d[c] = src[c];
        for (int c = nr; c < NR; c++) d[c] = 0.0f;
      }
    }
  } else {  // op(B)(k,j) = B[j·ldb + k]: walk each source row contiguously
    for (int c = 0; c < NR; c++) {
      if (c < nr) {
        const float* src = B + (size_t)(j + c) * ldb + p0;
        for (int k = 0; k < kc; k++) strip[(size_t)k * NR + c] = src[k];
      } else {
        for (int k = 0; k < kc; k++) strip[(size_t)k * NR + c] = 0.0f;
      }
    }
  }
}

// C[6×16] = a·b (+ beta·C when beta != 0; beta == 0 never reads C, as BLAS).
__attribute__((target("avx2,fma"))) void micro_6x16(int kc, const float* a, const float* b,
                                                    float* c, int ldc, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int r = 0; r < MR; r++) _mm_prefetch((const char*)(c + (size_t)r * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
  for (int k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 a0 = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(a0, b0, c00);
    c01 = _mm256_fmadd_ps(a0, b1, c01);
    a0 = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(a0, b0, c10);
    c11 = _mm256_fmadd_ps(a0, b1, c11);
    a0 = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(a0, b0, c20);
    c21 = _mm256_fmadd_ps(a0, b1, c21);
    a0 = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(a0, b0, c30);
    c31 = _mm256_fmadd_ps(a0, b1, c31);
    a0 = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(a0, b0, c40);
    c41 = _mm256_fmadd_ps(a0, b1, c41);
    a0 = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(a0, b0, c50);
    c51 = _mm256_fmadd_ps(a0, b1, c51);
    a += MR;
    b += NR;
  }
  __m256 rows[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (beta == 0.0f) {
    for (int r = 0; r < MR; r++) {
      _mm256_storeu_ps(c + (size_t)r * ldc, rows[r][0]);
      _mm256_storeu_ps(c + (size_t)r * ldc + 8, rows[r][1]);
    }
  } else {
    __m256 vb = _mm256_set1_ps(beta);
    for (int r = 0; r < MR; r++) {
      float* cr = c + (size_t)r * ldc;
      _mm256_storeu_ps(cr, _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), rows[r][0]));
      _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), rows[r][1]));
    }
  }
}

// Partial tile at the bottom/right edge: full tile into scratch, then merge mr×nr of it.
__attribute__((target("avx2,fma"))) void micro_edge(int kc, const float* a, const float* b,
                                                    float* c, int ldc, float beta, int mr,
                                                    int nr) {
  alignas(32) float tile[MR * NR];
  micro_6x16(kc, a, b, tile, NR, 0.0f);
  for (int r = 0; r < mr; r++)
    for (int j = 0; j < nr; j++) {
      float* cij = c + (size_t)r * ldc + j;
      *cij = beta == 0.0f ? tile[r * NR + j] : beta * *cij + tile[r * NR + j];
    }
}
}  // namespace

void sgemm_avx2(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {  // C = beta·C only
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++)
        C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
    return;
  }
  int nt = omp_get_max_threads();
  // Small products are not worth waking threads (each barrier costs microseconds).
  if ((double)M * N * K < 2e6) nt = 1;
  // Row blocks: a multiple of MR, at most MC_MAX, and a count divisible by the thread count so
  // no thread idles on the last block (M = 2048 on 2 threads: 16 blocks of 132 rows).
  int blocks = std::max(1, (M + MC_MAX - 1) / MC_MAX);
  blocks = (blocks + nt - 1) / nt * nt;
  int mc = std::min(MC_MAX, ((M + blocks - 1) / blocks + MR - 1) / MR * MR);
  int n_mblocks = (M + mc - 1) / mc;
  int ncb = std::min(N, NC);
  Buffer bpack = alloc_floats((size_t)KC * ((ncb + NR - 1) / NR * NR));
#pragma omp parallel num_threads(nt)
  {
    Buffer apack = alloc_floats((size_t)mc * KC + MR * KC);
    for (int j0 = 0; j0 < N; j0 += NC) {
      int nc = std::min(NC, N - j0);
      int nstrips = (nc + NR - 1) / NR;
      for (int p0 = 0; p0 < K; p0 += KC) {
        int kc = std::min(KC, K - p0);
        float beta_eff = p0 == 0 ? beta : 1.0f;
#pragma omp for schedule(static)
        for (int s = 0; s < nstrips; s++)
          pack_b_strip(bpack.get() + (size_t)s * kc * NR, trans_b, B, ldb, p0, kc, j0 + s * NR,
                       std::min(NR, nc - s * NR));
        // (implicit barrier: packed B complete)
        // Dynamic: on a shared, loaded machine a descheduled thread must not hold the other.
#pragma omp for schedule(dynamic, 1)
        for (int mb = 0; mb < n_mblocks; mb++) {
          int i0 = mb * mc, mcur = std::min(mc, M - i0);
          pack_a(apack.get(), trans_a, A, lda, i0, mcur, p0, kc, alpha);
          for (int s = 0; s < nstrips; s++) {
            int nr = std::min(NR, nc - s * NR);
            const float* bs = bpack.get() + (size_t)s * kc * NR;
            for (int ir = 0; ir < mcur; ir += MR) {
              int mr = std::min(MR, mcur - ir);
              float* c = C + (size_t)(i0 + ir) * ldc + j0 + s * NR;
              const float* as = apack.get() + (size_t)ir * kc;
              if (mr == MR && nr == NR)
                micro_6x16(kc, as, bs, c, ldc, beta_eff);
              else
                micro_edge(kc, as, bs, c, ldc, beta_eff, mr, nr);
            }
          }
        }
        // (implicit barrier: nobody repacks B while another thread still reads it)
      }
    }
  }
}

bool gemm_avx2_enabled() {
  static const bool enabled = [] {
    __builtin_cpu_init();
    bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char* env = std::getenv("LMFORGE_GEMM");
    if (env && std::strcmp(env, "blas") == 0) return false;
    if (env && std::strcmp(env, "avx2") == 0) return has;
    return has && kAvx2GemmDefault;
  }();
  return enabled;
}

}  // namespace lmforge::cpu
