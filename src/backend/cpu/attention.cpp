// CPU (float, OpenMP) causal self-attention with grouped-query heads, flash-style
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
#pragma GCC optimize("no-trapping-math")  // see vec_math.h: lets exp loops vectorize
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "lmforge/backend/kernels.h"
#include "lmforge/core/error.h"
#include "vec_math.h"

namespace lmforge::cpu {
namespace {
constexpr int kBq = 32;   // query rows per forward task: enough reuse of each packed key block
constexpr int kBk = 64;   // keys per block: kT and v blocks (2·64·HS floats) stay in L1/L2
constexpr int kRows = 4;  // query rows per dk/dv update in the backward (unrolled below)
static_assert(kRows == 4, "the dk/dv update in attention_backward is unrolled for 4 rows");

void check_heads(int NH, int NKV, const char* op) {
  check(NH > 0 && NKV > 0 && NH % NKV == 0, op,
        "NH=" + std::to_string(NH) + " must be a positive multiple of NKV=" + std::to_string(NKV));
}

// pos must be document-shaped: every pos[b,t] is 0 (a document starts) or pos[b,t-1] + 1. That
// implies 0 <= pos[b,t] <= t (no key before the row or after the query is read) and starts that
// never decrease (which the block skipping relies on). O(B·T), outside the parallel regions.
void check_pos(const int32_t* pos, int B, int T, const char* op) {
  for (int b = 0; b < B; b++) {
    const int32_t* p = pos + (size_t)b * T;
    for (int t = 0; t < T; t++) {
      if (p[t] == 0 || (t > 0 && (int64_t)p[t] == (int64_t)p[t - 1] + 1)) continue;
      throw RuntimeError(std::string("[") + op + "] pos[" + std::to_string(b) + "," +
                         std::to_string(t) + "] = " + std::to_string(p[t]) +
                         (t > 0 ? " follows " + std::to_string(p[t - 1]) : std::string()) +
                         ": each position must be 0 (a new document) or the previous one + 1");
    }
  }
}

// kT[d*ld + jj] = k row (j0+jj) for jj < kBk, zero-padded past nj.
void pack_transposed(float* kT, size_t ld, const float* base, size_t stride, int j0, int nj,
                     int HS) {
  for (int d = 0; d < HS; d++) {
    float* dst = kT + (size_t)d * ld;
    for (int jj = 0; jj < nj; jj++) dst[jj] = base[(size_t)(j0 + jj) * stride + d];
    for (int jj = nj; jj < kBk; jj++) dst[jj] = 0.0f;
  }
}

// GCC vector extension (8 floats): portable (lowered to SSE pairs without AVX), and it lets
// the hot loops below keep their accumulators in registers, which plain loops over float
// arrays did not (they load/store the accumulator on every FMA: ~2x slower, measured).
typedef float v8 __attribute__((vector_size(32)));
// The same vector at any float alignment: element access through it is an unaligned load or
// store. (Helper functions returning v8 would change the ABI in builds without AVX: -Wpsabi.)
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
inline const v8u& at8(const float* p) {
  return *reinterpret_cast<const v8u*>(p);
}
inline v8u& at8(float* p) {
  return *reinterpret_cast<v8u*>(p);
}

// s[jj] = scale · q·k_jj for the whole (padded) block: 8 register accumulators over kBk = 64.
// kT holds the block transposed: element (d, jj) at kT[d·ld + jj].
static_assert(kBk == 64);
inline void scores(float* s, const float* q, const float* kT, size_t ld, int HS, float scale) {
  v8 acc[8] = {};
  for (int d = 0; d < HS; d++) {
    v8 qd = v8{} + q[d] * scale;
    const float* kd = kT + (size_t)d * ld;
#pragma GCC unroll 8
    for (int u = 0; u < 8; u++) acc[u] += qd * at8(kd + 8 * u);
  }
#pragma GCC unroll 8
  for (int u = 0; u < 8; u++) at8(s + 8 * u) = acc[u];
}

// acc[0:HS] = corr·acc + Σ_{jj<n} w[jj]·rows[jj·stride + 0:HS] (P·V in the forward, dS·K for
// dq in the backward), with acc held in NV = HS/8 vector registers across the whole sum.
template <int NV>
void accumulate_rows_v(float* acc, float corr, const float* w, int n, const float* rows,
                       size_t stride) {
  v8 a[NV];
#pragma GCC unroll 16
  for (int k = 0; k < NV; k++) a[k] = at8(acc + 8 * k) * corr;
  for (int jj = 0; jj < n; jj++) {
    v8 wj = v8{} + w[jj];
    const float* r = rows + (size_t)jj * stride;
#pragma GCC unroll 16
    for (int k = 0; k < NV; k++) a[k] += wj * at8(r + 8 * k);
  }
#pragma GCC unroll 16
  for (int k = 0; k < NV; k++) at8(acc + 8 * k) = a[k];
}

void accumulate_rows(float* acc, float corr, const float* w, int n, const float* rows,
                     size_t stride, int HS) {
  switch (HS) {  // the head sizes of real models; anything else takes the plain loop
    case 8:
      return accumulate_rows_v<1>(acc, corr, w, n, rows, stride);
    case 16:
      return accumulate_rows_v<2>(acc, corr, w, n, rows, stride);
    case 32:
      return accumulate_rows_v<4>(acc, corr, w, n, rows, stride);
    case 64:
      return accumulate_rows_v<8>(acc, corr, w, n, rows, stride);
    case 96:
      return accumulate_rows_v<12>(acc, corr, w, n, rows, stride);
    case 128:
      return accumulate_rows_v<16>(acc, corr, w, n, rows, stride);
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
    std::vector<float> acc((size_t)kBq * HS), s(kBk), m(kBq), l(kBq);
    int start[kBq] = {};  // document start of each query row of the block (kPacked)
    // Largest query blocks first (they see the most keys): better dynamic load balance.
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < (int64_t)B * NH * nqb; task++) {
      int qb = nqb - 1 - (int)(task % nqb);
      int h = (int)(task / nqb % NH), b = (int)(task / nqb / NH);
      int kvh = h / group;
      int i0 = qb * kBq, i1 = std::min(T, i0 + kBq);
      const float* base = qkv + (size_t)b * T * qkv_dim;
      const float* vbase = base + (size_t)(NH + NKV + kvh) * HS;
      std::fill(acc.begin(), acc.end(), 0.0f);
      std::fill(m.begin(), m.end(), -INFINITY);
      std::fill(l.begin(), l.end(), 0.0f);
      int jfirst = 0;
      if constexpr (kPacked) {
        for (int i = i0; i < i1; i++) start[i - i0] = i - pos[(size_t)b * T + i];
        jfirst = start[0] / kBk * kBk;  // starts never decrease: row i0 has the earliest
      }
      for (int j0 = jfirst; j0 < i1; j0 += kBk) {
        int nj = std::min(kBk, i1 - j0);
        const float* kT = kT_all + ((size_t)b * NKV + kvh) * HS * T_pad + j0;
        for (int i = std::max(i0, j0); i < i1; i++) {
          int r = i - i0, valid = std::min(nj, i - j0 + 1), lo = 0;  // keys [lo, valid) of block
          if constexpr (kPacked) {
            lo = start[r] - j0;
            if (lo >= nj) break;  // this row's document (and every later row's) starts later
            lo = std::max(lo, 0);
          }
          scores(s.data(), base + (size_t)i * qkv_dim + (size_t)h * HS, kT, T_pad, HS, scale);
          float bmax = -INFINITY;
#pragma omp simd reduction(max : bmax)
          for (int jj = lo; jj < valid; jj++) bmax = s[jj] > bmax ? s[jj] : bmax;
          float m_new = std::max(m[r], bmax);
          float corr = exp_approx(m[r] - m_new);  // 0 on the first block (m = −inf)
          float* a = acc.data() + (size_t)r * HS;
          float lsum = 0.0f;
#pragma omp simd reduction(+ : lsum)
          for (int jj = lo; jj < valid; jj++) {
            s[jj] = exp_approx(s[jj] - m_new);
            lsum += s[jj];
          }
          l[r] = l[r] * corr + lsum;
          m[r] = m_new;
          accumulate_rows(a, corr, s.data() + lo, valid - lo, vbase + (size_t)(j0 + lo) * qkv_dim,
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
    std::vector<float> kT((size_t)HS * kBk), vT((size_t)HS * kBk), dkb((size_t)kBk * HS),
        dvb((size_t)kBk * HS), p(kRows * kBk), ds(kRows * kBk);
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < (int64_t)B * NKV; task++) {
      int b = (int)(task / NKV), kvh = (int)(task % NKV);
      const float* base = qkv + (size_t)b * T * qkv_dim;
      float* dbase = dqkv + (size_t)b * T * qkv_dim;
      const int32_t* pb = kPacked ? pos + (size_t)b * T : nullptr;
      const size_t koff = (size_t)(NH + kvh) * HS, voff = (size_t)(NH + NKV + kvh) * HS;
      // This task owns the dq slices of its group's query heads: zero them, then accumulate.
      for (int t = 0; t < T; t++)
        std::fill_n(dbase + (size_t)t * qkv_dim + (size_t)kvh * group * HS, (size_t)group * HS,
                    0.0f);
      for (int j0 = 0; j0 < T; j0 += kBk) {
        int nj = std::min(kBk, T - j0);
        // Query rows [j0, iend) see this key block: from the first document that starts after
        // the block on, no row does (starts never decrease).
        int iend = T;
        if constexpr (kPacked) {
          iend = j0 + nj;
          while (iend < T && pb[iend] != 0) iend++;
        }
        pack_transposed(kT.data(), kBk, base + koff, qkv_dim, j0, nj, HS);
        pack_transposed(vT.data(), kBk, base + voff, qkv_dim, j0, nj, HS);
        std::fill(dkb.begin(), dkb.end(), 0.0f);
        std::fill(dvb.begin(), dvb.end(), 0.0f);
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
            for (int r = 0; r < kRows; r++) {
              float* pr = p.data() + r * kBk;
              float* dsr = ds.data() + r * kBk;
              if (i + r >= iend) {  // past the end: zero weights, any valid row pointer
                std::fill_n(pr, kBk, 0.0f);
                std::fill_n(dsr, kBk, 0.0f);
                q[r] = q[0];
                dO[r] = dO[0];
                continue;
              }
              int ir = i + r;
              q[r] = base + (size_t)ir * qkv_dim + (size_t)h * HS;
              dO[r] = dout + ((size_t)b * T + ir) * out_dim + (size_t)h * HS;
              float* dq = dbase + (size_t)ir * qkv_dim + (size_t)h * HS;
              int valid = std::min(nj, ir - j0 + 1), lo = 0;  // keys [lo, valid) of the block
              if constexpr (kPacked) {
                lo = std::max(0, ir - pb[ir] - j0);  // < valid: ir < iend
                vmin = std::min(vmin, lo);
              }
              vmax = std::max(vmax, valid);
              scores(pr, q[r], kT.data(), kBk, HS, scale);
              scores(dsr, dO[r], vT.data(), kBk, HS, 1.0f);  // dp_jj = dO·v_jj, in ds for now
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
              float* dk = dkb.data() + (size_t)jj * HS;
              float* dv = dvb.data() + (size_t)jj * HS;
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
          std::copy_n(dkb.data() + (size_t)jj * HS, HS, dbase + (size_t)(j0 + jj) * qkv_dim + koff);
          std::copy_n(dvb.data() + (size_t)jj * HS, HS, dbase + (size_t)(j0 + jj) * qkv_dim + voff);
        }
      }
    }
  }
}
}  // namespace

void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int NH, int NKV,
                       int HS, const int32_t* pos) {
  check_heads(NH, NKV, "attention_forward");
  if (pos) check_pos(pos, B, T, "attention_forward");
  const size_t qkv_dim = (size_t)(NH + 2 * NKV) * HS;
  // Every key head transposed once, (B, NKV, HS, T_pad) zero padded: packing per query-block
  // task instead repeated each key block up to T/kBq times (~18% of the forward in perf).
  const int T_pad = (T + kBk - 1) / kBk * kBk;
  std::vector<float> kT_all((size_t)B * NKV * HS * T_pad);
#pragma omp parallel for schedule(static)
  for (int64_t bk = 0; bk < (int64_t)B * NKV; bk++) {
    const float* kbase = qkv + (size_t)(bk / NKV) * T * qkv_dim + (size_t)(NH + bk % NKV) * HS;
    for (int j0 = 0; j0 < T_pad; j0 += kBk)
      pack_transposed(kT_all.data() + (size_t)bk * HS * T_pad + j0, T_pad, kbase, qkv_dim, j0,
                      std::min(kBk, std::max(0, T - j0)), HS);
  }
  if (pos)
    forward_blocks<true>(out, lse, qkv, kT_all.data(), pos, B, T, NH, NKV, HS);
  else
    forward_blocks<false>(out, lse, qkv, kT_all.data(), nullptr, B, T, NH, NKV, HS);
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, int B, int T, int NH, int NKV, int HS,
                        const int32_t* pos) {
  check_heads(NH, NKV, "attention_backward");
  if (pos) check_pos(pos, B, T, "attention_backward");
  const size_t out_dim = (size_t)NH * HS;
  // D_i = dO_i·O_i per (b, h, i): the softmax-backward row term, computed once.
  std::vector<float> Dterm((size_t)B * NH * T);
#pragma omp parallel for schedule(static)
  for (int64_t bt = 0; bt < (int64_t)B * T; bt++) {
    int b = (int)(bt / T), t = (int)(bt % T);
    for (int h = 0; h < NH; h++) {
      const float* o = out + bt * out_dim + (size_t)h * HS;
      const float* d = dout + bt * out_dim + (size_t)h * HS;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int k = 0; k < HS; k++) s += o[k] * d[k];
      Dterm[((size_t)b * NH + h) * T + t] = s;
    }
  }
  if (pos)
    backward_blocks<true>(dqkv, dout, qkv, lse, Dterm.data(), pos, B, T, NH, NKV, HS);
  else
    backward_blocks<false>(dqkv, dout, qkv, lse, Dterm.data(), nullptr, B, T, NH, NKV, HS);
}

}  // namespace lmforge::cpu
