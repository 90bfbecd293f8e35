// Our AVX2/FMA SGEMM, so the CPU backend's speed does not hinge on which kernel OpenBLAS
// dispatches to (OPENBLAS_CORETYPE, library build). Classic Goto/BLIS structure:
//   threads take independent chunks of C (see sgemm_avx2 for why); within a chunk,
//   for each NC column block, for each KC slice of K: pack op(B)[KC×NC] into 16-wide column
//     strips; for each MC row block: pack alpha·op(A)[MC×KC] into 6-high row strips and run
//     a 6×16 register micro-kernel (12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of 16
//     registers) over every (6-row strip, 16-column strip) pair.
// Packing makes all four transpose cases the same kernel. Edge tiles are computed into a
// scratch tile and merged. Functions carry target("avx2,fma") so the file builds and the
// library runs without -march=native; callers must check gemm_avx2_enabled() first.
// Not here: AVX-512, bf16, small-matrix special cases.
#include "gemm_avx2.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "lmforge/backend/kernels_infer.h"

namespace lmforge::cpu {
namespace {
constexpr int MR = 6, NR = 16;
// KC·NR·4 ≤ 24 KiB B strip stays in L1 across a row block; MC·KC·4 ≤ 216 KiB A block in L2
// (Zen 3: 32 KiB L1d, 512 KiB L2); NC bounds the shared packed B (KC·NC·4 ≤ 4.5 MiB) in L3.
// K is split into equal slices of at most KC (K = 384, the model width, is one slice: C is
// then read and written once instead of twice — measured 3-8% on the "small" shapes).
constexpr int KC = 384, MC_MAX = 144, NC = 3072;

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
                                                    float* c, int ldc, float beta, int mr, int nr) {
  alignas(32) float tile[MR * NR];
  micro_6x16(kc, a, b, tile, NR, 0.0f);
  for (int r = 0; r < mr; r++)
    for (int j = 0; j < nr; j++) {
      float* cij = c + (size_t)r * ldc + j;
      *cij = beta == 0.0f ? tile[r * NR + j] : beta * *cij + tile[r * NR + j];
    }
}

// Serial blocked GEMM on the sub-rectangle rows [i_lo, i_hi) × columns [j_lo, j_hi) of C.
void gemm_block(bool ta, bool tb, int i_lo, int i_hi, int j_lo, int j_hi, int K, int kc_max,
                float alpha, const float* A, int lda, const float* B, int ldb, float beta, float* C,
                int ldc, float* apack, float* bpack) {
  int M = i_hi - i_lo;
  // Row blocks of at most MC_MAX rows, balanced (M = 256: two blocks of 128, not 144 + 112).
  int mblocks = (M + MC_MAX - 1) / MC_MAX;
  int mc = ((M + mblocks - 1) / mblocks + MR - 1) / MR * MR;
  for (int j0 = j_lo; j0 < j_hi; j0 += NC) {
    int nc = std::min(NC, j_hi - j0), nstrips = (nc + NR - 1) / NR;
    for (int p0 = 0; p0 < K; p0 += kc_max) {
      int kc = std::min(kc_max, K - p0);
      float beta_eff = p0 == 0 ? beta : 1.0f;
      for (int s = 0; s < nstrips; s++)
        pack_b_strip(bpack + (size_t)s * kc * NR, tb, B, ldb, p0, kc, j0 + s * NR,
                     std::min(NR, nc - s * NR));
      for (int i0 = i_lo; i0 < i_hi; i0 += mc) {
        int mcur = std::min(mc, i_hi - i0);
        pack_a(apack, ta, A, lda, i0, mcur, p0, kc, alpha);
        for (int s = 0; s < nstrips; s++) {
          int nr = std::min(NR, nc - s * NR);
          const float* bs = bpack + (size_t)s * kc * NR;
          for (int ir = 0; ir < mcur; ir += MR) {
            int mr = std::min(MR, mcur - ir);
            float* c = C + (size_t)(i0 + ir) * ldc + j0 + s * NR;
            const float* as = apack + (size_t)ir * kc;
            if (mr == MR && nr == NR)
              micro_6x16(kc, as, bs, c, ldc, beta_eff);
            else
              micro_edge(kc, as, bs, c, ldc, beta_eff, mr, nr);
          }
        }
      }
    }
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
  if ((double)M * N * K < 2e6) nt = 1;  // small products are not worth waking threads
  // Threads take independent chunks of C, each a complete serial GEMM with its own packing:
  // no barrier inside a call, so a thread that the OS deschedules (the 2 cores are shared)
  // delays only its own chunk while dynamic scheduling hands the rest to the other thread. The
  // first design (one shared packed B, a barrier per K slice) lost up to 3x to OpenBLAS under
  // load, measured. The price is packing the operand that is not split once per chunk, so the
  // split runs along the dimension whose other operand is smaller: rows of C (repacking B,
  // K·N) or columns (repacking A, M·K). Four chunks per thread keep that below ~3%.
  bool split_rows = (double)K * N <= (double)M * K;
  int extent = split_rows ? M : N, unit = split_rows ? MR : NR;
  int chunks = nt == 1 ? 1 : std::max(1, std::min(2 * nt, extent / (8 * unit)));
  int span = ((extent + chunks - 1) / chunks + unit - 1) / unit * unit;
  chunks = (extent + span - 1) / span;
  int k_slices = (K + KC - 1) / KC;
  int kc_max = ((K + k_slices - 1) / k_slices + 7) / 8 * 8;
#pragma omp parallel num_threads(nt)
  {
    Buffer apack = alloc_floats((size_t)(MC_MAX + MR) * kc_max);
    Buffer bpack = alloc_floats((size_t)kc_max * (std::min(N, NC) + NR));
#pragma omp for schedule(dynamic, 1)
    for (int ch = 0; ch < chunks; ch++) {
      int lo = ch * span, hi = std::min(extent, lo + span);
      if (split_rows)
        gemm_block(trans_a, trans_b, lo, hi, 0, N, K, kc_max, alpha, A, lda, B, ldb, beta, C, ldc,
                   apack.get(), bpack.get());
      else
        gemm_block(trans_a, trans_b, 0, M, lo, hi, K, kc_max, alpha, A, lda, B, ldb, beta, C, ldc,
                   apack.get(), bpack.get());
    }
  }
}

// Weights packed once (the decode path, infer/engine.cpp): the B operand of out = inp·Wᵀ laid out
// as sgemm_avx2 packs it, K slices of at most KC, each holding ceil(OC/NR) strips of kc×NR
// floats (zero-padded columns). Slice p, which starts at row p0 of K, begins at p0·OC_pad; its
// strip s at s·kc·NR after that. A batched decode step then streams the weights straight into
// the micro-kernel instead of packing them again on every step.
namespace {
int packed_kc(int IC) {
  const int k_slices = (IC + KC - 1) / KC;
  return ((IC + k_slices - 1) / k_slices + 7) / 8 * 8;
}
}  // namespace

bool packed_linear_available() {
  return gemm_avx2_enabled();
}

size_t packed_weight_floats(int IC, int OC) {
  return (size_t)IC * ((OC + NR - 1) / NR * NR);
}

void pack_weight(float* dst, const float* W, int IC, int OC) {
  const int kc_max = packed_kc(IC), strips = (OC + NR - 1) / NR, oc_pad = strips * NR;
  for (int p0 = 0; p0 < IC; p0 += kc_max) {
    const int kc = std::min(kc_max, IC - p0);
#pragma omp parallel for schedule(static)
    for (int s = 0; s < strips; s++)
      pack_b_strip(dst + (size_t)p0 * oc_pad + (size_t)s * kc * NR, true, W, IC, p0, kc, s * NR,
                   std::min(NR, OC - s * NR));
  }
}

void linear_packed_forward(float* out, const float* inp, const float* packed, const float* bias,
                           int N, int IC, int OC) {
  if (N <= 0) return;
  const int kc_max = packed_kc(IC), strips = (OC + NR - 1) / NR, oc_pad = strips * NR;
  const int mpad = (N + MR - 1) / MR * MR;
  // The rows, packed per K slice, shared by every thread. The buffer is the calling thread's and
  // only grows, so a decode step's ~25 calls allocate nothing (prompts would otherwise mmap and
  // unmap a fresh buffer per call).
  thread_local Buffer apack;
  thread_local size_t apack_floats = 0;
  if (apack_floats < (size_t)mpad * IC) {
    apack_floats = (size_t)mpad * IC;
    apack = alloc_floats(apack_floats);
  }
  float* const ap = apack.get();  // the workers below read it through this, not their own
  for (int p0 = 0; p0 < IC; p0 += kc_max) {
    const int kc = std::min(kc_max, IC - p0);
    pack_a(ap + (size_t)p0 * mpad, false, inp, IC, 0, N, p0, kc, 1.0f);
  }
  if (bias)
    for (int n = 0; n < N; n++) std::memcpy(out + (size_t)n * OC, bias, OC * sizeof(float));
#pragma omp parallel for schedule(static) if ((size_t)OC * IC > (1u << 16))
  for (int s = 0; s < strips; s++) {
    const int nr = std::min(NR, OC - s * NR);
    for (int p0 = 0; p0 < IC; p0 += kc_max) {
      const int kc = std::min(kc_max, IC - p0);
      const float beta = (bias || p0 > 0) ? 1.0f : 0.0f;
      const float* bs = packed + (size_t)p0 * oc_pad + (size_t)s * kc * NR;
      for (int ir = 0; ir < N; ir += MR) {
        const int mr = std::min(MR, N - ir);
        const float* as = ap + (size_t)p0 * mpad + (size_t)ir * kc;
        float* c = out + (size_t)ir * OC + s * NR;
        if (mr == MR && nr == NR)
          micro_6x16(kc, as, bs, c, OC, beta);
        else
          micro_edge(kc, as, bs, c, OC, beta, mr, nr);
      }
    }
  }
}

bool gemm_avx2_enabled() {
  static const bool enabled = [] {
    __builtin_cpu_init();
    bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char* env = std::getenv("LMFORGE_GEMM");
    return has && !(env && std::strcmp(env, "blas") == 0);
  }();
  return enabled;
}

}  // namespace lmforge::cpu
