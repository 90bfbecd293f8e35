// CPU (float, OpenMP) causal self-attention with grouped-query heads, flash-style: argument
// checks, the forward's key transpose and the backward's D term here; the blocked passes
// (attention_kernels.h, where the algorithm is described) in two builds, the AVX-512 twin
// (attention_avx512.cpp, 16-lane vectors) and the baseline one below (8 lanes).
#pragma GCC optimize("no-trapping-math")  // see vec_math.h: lets exp loops vectorize
#include <algorithm>
#include <string>
#include <vector>

#include "lmforge/core/error.h"
#define LMFORGE_CPU_ISA avx2
#include "attention_kernels.h"

namespace lmforge::cpu {
namespace {
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

}  // namespace

void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int NH, int NKV,
                       int HS, const int32_t* pos) {
  check_heads(NH, NKV, "attention_forward");
  if (pos) check_pos(pos, B, T, "attention_forward");
  const size_t qkv_dim = (size_t)(NH + 2 * NKV) * HS;
  // Every key head transposed once, (B, NKV, HS, T_pad) zero padded: packing per query-block
  // task instead repeated each key block up to T/kBq times (~18% of the forward in perf).
  const int T_pad = (T + avx2::kBk - 1) / avx2::kBk * avx2::kBk;
  std::vector<float> kT_all((size_t)B * NKV * HS * T_pad);
#pragma omp parallel for schedule(static)
  for (int64_t bk = 0; bk < (int64_t)B * NKV; bk++) {
    const float* kbase = qkv + (size_t)(bk / NKV) * T * qkv_dim + (size_t)(NH + bk % NKV) * HS;
    for (int j0 = 0; j0 < T_pad; j0 += avx2::kBk)
      avx2::pack_transposed(kT_all.data() + (size_t)bk * HS * T_pad + j0, T_pad, kbase, qkv_dim, j0,
                            std::min(avx2::kBk, std::max(0, T - j0)), HS);
  }
  if (use_avx512())
    avx512::attention_forward_blocks(out, lse, qkv, kT_all.data(), pos, B, T, NH, NKV, HS);
  else
    avx2::attention_forward_blocks(out, lse, qkv, kT_all.data(), pos, B, T, NH, NKV, HS);
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
  if (use_avx512())
    avx512::attention_backward_blocks(dqkv, dout, qkv, lse, Dterm.data(), pos, B, T, NH, NKV, HS);
  else
    avx2::attention_backward_blocks(dqkv, dout, qkv, lse, Dterm.data(), pos, B, T, NH, NKV, HS);
}

}  // namespace lmforge::cpu
