// The bodies of the CPU (float, OpenMP) causal self-attention with grouped-query heads, flash-style
// (FlashAttention-2, Dao 2023): the forward walks key blocks with an online softmax (running max
// m, running sum l, rescaled accumulator) and saves only lse = m + log l per query row; the
// backward recomputes P = exp(q·k·scale − lse) block by block, with D_i = dO_i·O_i and
// dS = P∘(dP − D). No T×T matrix exists at any time.
// Parallelism: forward over (b, head, query block); backward over (b, kv head), because all the
// query heads of a group write the same dk/dv rows; each task owns those rows, so no atomics.
// Key blocks are packed transposed (HS × kBk) so that a query row's scores against a block are
// an axpy over kBk lanes instead of kBk horizontal dot-product reductions.
// Packed rows (pos != nullptr): query i sees keys start_i..i, start_i = i - pos[b,i] (its
// document). Validated pos makes start_i non-decreasing in i, so the forward skips every key
// block before its query block's first start, and the backward skips every query row from the
// first document that begins after the key block; partial blocks are masked per row. Work is
// thus at most the unpacked work. Both passes are templates on kPacked: the unpacked
// instantiation is the same code as before pos existed (lo = 0 folds away).
// Compiled once per ISA (isa_kernels.h): attention.cpp (baseline, cpu::avx2, 8-lane vectors) and
// attention_avx512.cpp (cpu::avx512, 16-lane vectors). Argument checks, the key transpose of the
// forward and the backward's D term stay in attention.cpp. No std:: containers or algorithms
// here (new[] scratch, plain loops): their instances could be emitted out of line.
// Included with LMFORGE_CPU_ISA defined (and no-trapping-math, see vec_math.h); no include guard.
#include <omp.h>

#include <cmath>

#include "isa_kernels.h"
#include "vec_math.h"

namespace lmforge::cpu::LMFORGE_CPU_ISA {
namespace {
constexpr int kBq = 32;   // query rows per forward task: enough reuse of each packed key block
constexpr int kBk = 64;   // keys per block: kT and v blocks (2·64·HS floats) stay in L1/L2
constexpr int kRows = 4;  // query rows per dk/dv update in the backward (unrolled below)
static_assert(kRows == 4, "the dk/dv update in attention_backward is unrolled for 4 rows");

// kT[d*ld + jj] = k row (j0+jj) for jj < kBk, zero-padded past nj.
void pack_transposed(float* kT, size_t ld, const float* base, size_t stride, int j0, int nj,
                     int HS) {
  for (int d = 0; d < HS; d++) {
    float* dst = kT + (size_t)d * ld;
    for (int jj = 0; jj < nj; jj++) dst[jj] = base[(size_t)(j0 + jj) * stride + d];
    for (int jj = nj; jj < kBk; jj++) dst[jj] = 0.0f;
  }
}

// GCC vector extension of kLanes floats (8 = one ymm in the baseline build, 16 = one zmm in the
// AVX-512 build): it lets the hot loops below keep their accumulators in registers, which plain
// loops over float arrays did not (they load/store the accumulator on every FMA: ~2x slower,
// measured).
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#else
constexpr int kLanes = 8;
#endif
typedef float vf __attribute__((vector_size(4 * kLanes)));
// The same vector at any float alignment: element access through it is an unaligned load or
// store. (Helper functions returning vf would change the ABI in builds without AVX: -Wpsabi.)
typedef float vfu __attribute__((vector_size(4 * kLanes), aligned(4), may_alias));
inline const vfu& at(const float* p) {
  return *reinterpret_cast<const vfu*>(p);
}
inline vfu& at(float* p) {
  return *reinterpret_cast<vfu*>(p);
}
inline int imin(int a, int b) {
  return a < b ? a : b;
}
inline int imax(int a, int b) {
  return a > b ? a : b;
}

// s[r·kBk + jj] = scale · q_r·k_jj for R query rows against the whole (padded) block, kBk/kLanes
// register accumulators per row. kT holds the block transposed: element (d, jj) at kT[d·ld + jj].
// Each score is the same sum over d in the same order whatever R and the width.
// R > 1 shares each loaded key vector between rows and gives the FMA units independent chains:
// at 16 lanes one row has only 4 accumulators, fewer than the FMA latency × issue width, so the
// AVX-512 build scores kScoreRows = 4 rows per pass (16 zmm accumulators of 32). The AVX2 build
// keeps one row (8 ymm accumulators of 16).
static_assert(kBk % 16 == 0);
constexpr int kAcc = kBk / kLanes;
constexpr int kScoreRows = kLanes == 16 ? 4 : 1;
static_assert(kRows % kScoreRows == 0 && kBq % kScoreRows == 0);
template <int R>
inline void scores_rows(float* s, const float* const* q, const float* kT, size_t ld, int HS,
                        float scale) {
  vf acc[R][kAcc] = {};
  for (int d = 0; d < HS; d++) {
    const float* kd = kT + (size_t)d * ld;
    vf qd[R];
    for (int r = 0; r < R; r++) qd[r] = vf{} + q[r][d] * scale;
#pragma GCC unroll 8
    for (int u = 0; u < kAcc; u++) {
      vf k = at(kd + kLanes * u);
      for (int r = 0; r < R; r++) acc[r][u] += qd[r] * k;
    }
  }
  for (int r = 0; r < R; r++)
#pragma GCC unroll 8
    for (int u = 0; u < kAcc; u++) at(s + (size_t)r * kBk + kLanes * u) = acc[r][u];
}

// acc[0:HS] = corr·acc + Σ_{jj<n} w[jj]·rows[jj·stride + 0:HS] (P·V in the forward, dS·K for
// dq in the backward), with acc held in NV = HS/kLanes vector registers across the whole sum.
template <int NV>
void accumulate_rows_v(float* acc, float corr, const float* w, int n, const float* rows,
                       size_t stride) {
  vf a[NV];
#pragma GCC unroll 16
  for (int k = 0; k < NV; k++) a[k] = at(acc + kLanes * k) * corr;
  for (int jj = 0; jj < n; jj++) {
    vf wj = vf{} + w[jj];
    const float* r = rows + (size_t)jj * stride;
#pragma GCC unroll 16
    for (int k = 0; k < NV; k++) a[k] += wj * at(r + kLanes * k);
  }
#pragma GCC unroll 16
  for (int k = 0; k < NV; k++) at(acc + kLanes * k) = a[k];
}

void accumulate_rows(float* acc, float corr, const float* w, int n, const float* rows,
                     size_t stride, int HS) {
  switch (HS) {  // the head sizes of real models; anything else takes the plain loop
    case 8:
      if constexpr (kLanes == 8) return accumulate_rows_v<1>(acc, corr, w, n, rows, stride);
      break;
    case 16:
      return accumulate_rows_v<16 / kLanes>(acc, corr, w, n, rows, stride);
    case 32:
      return accumulate_rows_v<32 / kLanes>(acc, corr, w, n, rows, stride);
    case 64:
      return accumulate_rows_v<64 / kLanes>(acc, corr, w, n, rows, stride);
    case 96:
      return accumulate_rows_v<96 / kLanes>(acc, corr, w, n, rows, stride);
    case 128:
      return accumulate_rows_v<128 / kLanes>(acc, corr, w, n, rows, stride);
  }
  for (int d = 0; d < HS; d++) acc[d] *= corr;
  for (int jj = 0; jj < n; jj++) {
    const float* r = rows + (size_t)jj * stride;
#pragma omp simd
    for (int d = 0; d < HS; d++) acc[d] += w[jj] * r[d];
  }
}

// The forward's query-block tasks over the pre-transposed keys kT_all (B, NKV, HS, T_pad).
template <bool kPacked>
void forward_blocks(float* out, float* lse, const float* qkv, const float* kT_all,
                    const int32_t* pos, int B, int T, int NH, int NKV, int HS) {
  const size_t qkv_dim = (size_t)(NH + 2 * NKV) * HS;
  const int group = NH / NKV, nqb = (T + kBq - 1) / kBq;
  const int T_pad = (T + kBk - 1) / kBk * kBk;
  const float scale = 1.0f / std::sqrt((float)HS);
#pragma omp parallel
  {
    // Per-thread scratch with new[] (no std:: container instances in an ISA build: isa_kernels.h).
    float* acc = new float[(size_t)kBq * HS];
    float* s = new float[(size_t)kScoreRows * kBk];
    float* m = new float[kBq];
    float* l = new float[kBq];
    int start[kBq] = {};  // document start of each query row of the block (kPacked)
    // Largest query blocks first (they see the most keys): better dynamic load balance.
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < (int64_t)B * NH * nqb; task++) {
      int qb = nqb - 1 - (int)(task % nqb);
      int h = (int)(task / nqb % NH), b = (int)(task / nqb / NH);
      int kvh = h / group;
      int i0 = qb * kBq, i1 = imin(T, i0 + kBq);
      const float* base = qkv + (size_t)b * T * qkv_dim;
      const float* vbase = base + (size_t)(NH + NKV + kvh) * HS;
      for (size_t e = 0; e < (size_t)kBq * HS; e++) acc[e] = 0.0f;
      for (int r = 0; r < kBq; r++) m[r] = -INFINITY, l[r] = 0.0f;
      int jfirst = 0;
      if constexpr (kPacked) {
        for (int i = i0; i < i1; i++) start[i - i0] = i - pos[(size_t)b * T + i];
        jfirst = start[0] / kBk * kBk;  // starts never decrease: row i0 has the earliest
      }
      for (int j0 = jfirst; j0 < i1; j0 += kBk) {
        int nj = imin(kBk, i1 - j0);
        const float* kT = kT_all + ((size_t)b * NKV + kvh) * HS * T_pad + j0;
        for (int i = imax(i0, j0); i < i1; i++) {
          int r = i - i0, valid = imin(nj, i - j0 + 1), lo = 0;  // keys [lo, valid) of block
          if constexpr (kPacked) {
            lo = start[r] - j0;
            if (lo >= nj) break;  // this row's document (and every later row's) starts later
            lo = imax(lo, 0);
          }
          // Scores of kScoreRows rows at once (rows past i1 repeat the last one, unused), then
          // row by row from s_r.
          const int ibeg = imax(i0, j0);
          float* s_r = s + (size_t)((i - ibeg) % kScoreRows) * kBk;
          if ((i - ibeg) % kScoreRows == 0) {
            const float* qs[kScoreRows];
            for (int u = 0; u < kScoreRows; u++)
              qs[u] = base + (size_t)imin(i + u, i1 - 1) * qkv_dim + (size_t)h * HS;
            scores_rows<kScoreRows>(s, qs, kT, T_pad, HS, scale);
          }
          float bmax = -INFINITY;
#pragma omp simd reduction(max : bmax)
          for (int jj = lo; jj < valid; jj++) bmax = s_r[jj] > bmax ? s_r[jj] : bmax;
          float m_new = m[r] < bmax ? bmax : m[r];
          float corr = exp_approx(m[r] - m_new);  // 0 on the first block (m = −inf)
          float* a = acc + (size_t)r * HS;
          float lsum = 0.0f;
#pragma omp simd reduction(+ : lsum)
          for (int jj = lo; jj < valid; jj++) {
            s_r[jj] = exp_approx(s_r[jj] - m_new);
            lsum += s_r[jj];
          }
          l[r] = l[r] * corr + lsum;
          m[r] = m_new;
          accumulate_rows(a, corr, s_r + lo, valid - lo, vbase + (size_t)(j0 + lo) * qkv_dim,
                          qkv_dim, HS);
        }
      }
      for (int i = i0; i < i1; i++) {
        int r = i - i0;
        float inv = 1.0f / l[r];
        float* o = out + ((size_t)b * T + i) * NH * HS + (size_t)h * HS;
#pragma omp simd
        for (int d = 0; d < HS; d++) o[d] = acc[(size_t)r * HS + d] * inv;
        lse[((size_t)b * NH + h) * T + i] = m[r] + std::log(l[r]);
      }
    }
    delete[] acc;
    delete[] s;
    delete[] m;
    delete[] l;
  }
}

// The backward's (b, kv head) tasks, given D_i = dO_i·O_i in Dterm (B, NH, T).
template <bool kPacked>
void backward_blocks(float* dqkv, const float* dout, const float* qkv, const float* lse,
                     const float* Dterm, const int32_t* pos, int B, int T, int NH, int NKV,
                     int HS) {
  const size_t qkv_dim = (size_t)(NH + 2 * NKV) * HS, out_dim = (size_t)NH * HS;
  const int group = NH / NKV;
  const float scale = 1.0f / std::sqrt((float)HS);
#pragma omp parallel
  {
    float* kT = new float[(size_t)HS * kBk];  // per-thread scratch, new[] as in the forward
    float* vT = new float[(size_t)HS * kBk];
    float* dkb = new float[(size_t)kBk * HS];
    float* dvb = new float[(size_t)kBk * HS];
    float* p = new float[kRows * kBk];
    float* ds = new float[kRows * kBk];
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < (int64_t)B * NKV; task++) {
      int b = (int)(task / NKV), kvh = (int)(task % NKV);
      const float* base = qkv + (size_t)b * T * qkv_dim;
      float* dbase = dqkv + (size_t)b * T * qkv_dim;
      const int32_t* pb = kPacked ? pos + (size_t)b * T : nullptr;
      const size_t koff = (size_t)(NH + kvh) * HS, voff = (size_t)(NH + NKV + kvh) * HS;
      // This task owns the dq slices of its group's query heads: zero them, then accumulate.
      for (int t = 0; t < T; t++) {
        float* dq = dbase + (size_t)t * qkv_dim + (size_t)kvh * group * HS;
        for (int e = 0; e < group * HS; e++) dq[e] = 0.0f;
      }
      for (int j0 = 0; j0 < T; j0 += kBk) {
        int nj = imin(kBk, T - j0);
        // Query rows [j0, iend) see this key block: from the first document that starts after
        // the block on, no row does (starts never decrease).
        int iend = T;
        if constexpr (kPacked) {
          iend = j0 + nj;
          while (iend < T && pb[iend] != 0) iend++;
        }
        pack_transposed(kT, kBk, base + koff, qkv_dim, j0, nj, HS);
        pack_transposed(vT, kBk, base + voff, qkv_dim, j0, nj, HS);
        for (size_t e = 0; e < (size_t)kBk * HS; e++) dkb[e] = dvb[e] = 0.0f;
        for (int h = kvh * group; h < (kvh + 1) * group; h++) {
          const float* lse_h = lse + ((size_t)b * NH + h) * T;
          const float* D_h = Dterm + ((size_t)b * NH + h) * T;
          // Query rows in groups of kRows: each dk/dv row is then loaded and stored once per
          // group instead of once per query row (those row updates were store-bound: ~35% of
          // the backward in perf before this change).
          for (int i = j0; i < iend; i += kRows) {
            const float* q[kRows];
            const float* dO[kRows];
            int vmin = kPacked ? kBk : 0, vmax = 0;  // keys [vmin, vmax) of the block in use
            for (int r = 0; r < kRows; r++) {  // rows past the end: any valid row, zero weights
              int ir = imin(i + r, iend - 1);
              q[r] = base + (size_t)ir * qkv_dim + (size_t)h * HS;
              dO[r] = dout + ((size_t)b * T + ir) * out_dim + (size_t)h * HS;
            }
            for (int r = 0; r < kRows; r += kScoreRows) {
              if (i + r >= iend) break;
              scores_rows<kScoreRows>(p + r * kBk, q + r, kT, kBk, HS, scale);
              scores_rows<kScoreRows>(ds + r * kBk, dO + r, vT, kBk, HS, 1.0f);  // dp = dO·v
            }
            for (int r = 0; r < kRows; r++) {
              float* pr = p + r * kBk;
              float* dsr = ds + r * kBk;
              if (i + r >= iend) {
                for (int jj = 0; jj < kBk; jj++) pr[jj] = dsr[jj] = 0.0f;
                continue;
              }
              int ir = i + r;
              float* dq = dbase + (size_t)ir * qkv_dim + (size_t)h * HS;
              int valid = imin(nj, ir - j0 + 1), lo = 0;  // keys [lo, valid) of the block
              if constexpr (kPacked) {
                lo = imax(0, ir - pb[ir] - j0);  // < valid: ir < iend
                vmin = imin(vmin, lo);
              }
              vmax = imax(vmax, valid);
              float li = lse_h[ir], Di = D_h[ir];
#pragma omp simd
              for (int jj = 0; jj < kBk; jj++) {
                bool in = kPacked ? jj >= lo && jj < valid : jj < valid;
                float pj = in ? exp_approx(pr[jj] - li) : 0.0f;
                pr[jj] = pj;
                dsr[jj] = pj * (dsr[jj] - Di) * scale;
              }
              accumulate_rows(dq, 1.0f, dsr + lo, valid - lo,
                              base + (size_t)(j0 + lo) * qkv_dim + koff, qkv_dim, HS);
            }
            for (int jj = vmin; jj < vmax; jj++) {
              float* dk = dkb + (size_t)jj * HS;
              float* dv = dvb + (size_t)jj * HS;
              float s0 = ds[jj], s1 = ds[kBk + jj], s2 = ds[2 * kBk + jj], s3 = ds[3 * kBk + jj];
              float p0 = p[jj], p1 = p[kBk + jj], p2 = p[2 * kBk + jj], p3 = p[3 * kBk + jj];
#pragma omp simd
              for (int d = 0; d < HS; d++) {
                dk[d] += s0 * q[0][d] + s1 * q[1][d] + s2 * q[2][d] + s3 * q[3][d];
                dv[d] += p0 * dO[0][d] + p1 * dO[1][d] + p2 * dO[2][d] + p3 * dO[3][d];
              }
            }
          }
        }
        for (int jj = 0; jj < nj; jj++) {
          float* dk = dbase + (size_t)(j0 + jj) * qkv_dim + koff;
          float* dv = dbase + (size_t)(j0 + jj) * qkv_dim + voff;
          for (int d = 0; d < HS; d++) {
            dk[d] = dkb[(size_t)jj * HS + d];
            dv[d] = dvb[(size_t)jj * HS + d];
          }
        }
      }
    }
    delete[] kT;
    delete[] vT;
    delete[] dkb;
    delete[] dvb;
    delete[] p;
    delete[] ds;
  }
}
}  // namespace

void attention_forward_blocks(float* out, float* lse, const float* qkv, const float* kT_all,
                              const int32_t* pos, int B, int T, int NH, int NKV, int HS) {
  if (pos)
    forward_blocks<true>(out, lse, qkv, kT_all, pos, B, T, NH, NKV, HS);
  else
    forward_blocks<false>(out, lse, qkv, kT_all, nullptr, B, T, NH, NKV, HS);
}

void attention_backward_blocks(float* dqkv, const float* dout, const float* qkv, const float* lse,
                               const float* Dterm, const int32_t* pos, int B, int T, int NH,
                               int NKV, int HS) {
  if (pos)
    backward_blocks<true>(dqkv, dout, qkv, lse, Dterm, pos, B, T, NH, NKV, HS);
  else
    backward_blocks<false>(dqkv, dout, qkv, lse, Dterm, nullptr, B, T, NH, NKV, HS);
}

}  // namespace lmforge::cpu::LMFORGE_CPU_ISA
