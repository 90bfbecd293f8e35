// Reference (double, naive) causal self-attention with grouped-query heads. The oracle for the
// flash-style cpu/attention.cpp: it builds each full score row, softmaxes it and sums, and its
// backward recomputes the probabilities from scratch (it ignores the saved out and lse, so it
// also checks that the fast kernel saved them correctly only through the test comparisons).
// Packed rows: with pos, query t's score row runs over keys start..t, start = t - pos[b,t] (its
// document); pos is not validated here (the cpu kernel does).
#include <cmath>
#include <vector>

#include "lmforge/backend/kernels.h"

namespace lmforge::ref {
namespace {
struct Layout {
  int qkv_dim, NH, NKV, HS;
  // Offsets inside one (B,T) row of qkv.
  size_t q(int h) const { return (size_t)h * HS; }
  size_t k(int h) const { return (size_t)(NH + h) * HS; }
  size_t v(int h) const { return (size_t)(NH + NKV + h) * HS; }
};

// Softmax probabilities p[j0..t] of query row t of head h over keys j0..t (causal, from the
// document start j0); p[0..j0) stay 0.
void probs(std::vector<double>& p, const double* qkv_b, const Layout& L, int h, int t, int j0) {
  int kvh = h / (L.NH / L.NKV);
  double scale = 1.0 / std::sqrt((double)L.HS);
  const double* q = qkv_b + (size_t)t * L.qkv_dim + L.q(h);
  double mx = -INFINITY;
  for (int j = j0; j <= t; j++) {
    const double* k = qkv_b + (size_t)j * L.qkv_dim + L.k(kvh);
    double s = 0.0;
    for (int i = 0; i < L.HS; i++) s += q[i] * k[i];
    p[j] = s * scale;
    mx = std::max(mx, p[j]);
  }
  double sum = 0.0;
  for (int j = j0; j <= t; j++) sum += (p[j] = std::exp(p[j] - mx));
  for (int j = j0; j <= t; j++) p[j] /= sum;
  p.push_back(mx + std::log(sum));  // lse rides at the end; callers pop it
}
}  // namespace

void attention_forward(double* out, double* lse, const double* qkv, int B, int T, int NH, int NKV,
                       int HS, const int32_t* pos) {
  Layout L{(NH + 2 * NKV) * HS, NH, NKV, HS};
  std::vector<double> p;
  for (int b = 0; b < B; b++) {
    const double* qkv_b = qkv + (size_t)b * T * L.qkv_dim;
    for (int h = 0; h < NH; h++) {
      int kvh = h / (NH / NKV);
      for (int t = 0; t < T; t++) {
        int j0 = pos ? t - pos[b * T + t] : 0;
        p.assign(t + 1, 0.0);
        probs(p, qkv_b, L, h, t, j0);
        lse[((size_t)b * NH + h) * T + t] = p.back();
        double* o = out + ((size_t)b * T + t) * NH * HS + (size_t)h * HS;
        for (int i = 0; i < HS; i++) o[i] = 0.0;
        for (int j = j0; j <= t; j++) {
          const double* v = qkv_b + (size_t)j * L.qkv_dim + L.v(kvh);
          for (int i = 0; i < HS; i++) o[i] += p[j] * v[i];
        }
      }
    }
  }
}

void attention_backward(double* dqkv, const double* dout, const double* qkv, const double*,
                        const double*, int B, int T, int NH, int NKV, int HS, const int32_t* pos) {
  Layout L{(NH + 2 * NKV) * HS, NH, NKV, HS};
  double scale = 1.0 / std::sqrt((double)HS);
  for (size_t i = 0; i < (size_t)B * T * L.qkv_dim; i++) dqkv[i] = 0.0;
  std::vector<double> p, dp;
  for (int b = 0; b < B; b++) {
    const double* qkv_b = qkv + (size_t)b * T * L.qkv_dim;
    double* dqkv_b = dqkv + (size_t)b * T * L.qkv_dim;
    for (int h = 0; h < NH; h++) {
      int kvh = h / (NH / NKV);
      for (int t = 0; t < T; t++) {
        int j0 = pos ? t - pos[b * T + t] : 0;
        p.assign(t + 1, 0.0);
        probs(p, qkv_b, L, h, t, j0);
        p.pop_back();
        const double* d = dout + ((size_t)b * T + t) * NH * HS + (size_t)h * HS;
        // dp_j = dout·v_j; softmax backward: ds_j = p_j (dp_j − Σ_k p_k dp_k).
        dp.assign(t + 1, 0.0);
        double dot = 0.0;
        for (int j = j0; j <= t; j++) {
          const double* v = qkv_b + (size_t)j * L.qkv_dim + L.v(kvh);
          for (int i = 0; i < HS; i++) dp[j] += d[i] * v[i];
          dot += p[j] * dp[j];
        }
        const double* q = qkv_b + (size_t)t * L.qkv_dim + L.q(h);
        double* dq = dqkv_b + (size_t)t * L.qkv_dim + L.q(h);
        for (int j = j0; j <= t; j++) {
          double ds = p[j] * (dp[j] - dot) * scale;
          const double* k = qkv_b + (size_t)j * L.qkv_dim + L.k(kvh);
          double* dk = dqkv_b + (size_t)j * L.qkv_dim + L.k(kvh);
          double* dv = dqkv_b + (size_t)j * L.qkv_dim + L.v(kvh);
          for (int i = 0; i < HS; i++) {
            dq[i] += ds * k[i];
            dk[i] += ds * q[i];
            dv[i] += p[j] * d[i];
          }
        }
      }
    }
  }
}

}  // namespace lmforge::ref
