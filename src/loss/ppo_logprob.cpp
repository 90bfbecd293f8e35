// The token log-prob head of PPO (see ppo.h): per row of logits the log-probability of the taken
// token and the entropy, and the in-place backward into dlogits. Rows are independent, so they
// run in parallel; each row's sums are in double (V is tens of thousands for real vocabularies).
// Not here: the clipped losses (ppo.cpp).
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "lmforge/loss/ppo.h"

namespace lmforge {

namespace {

// log Σ exp(row/τ) in double.
double log_sum_exp(const float* row, int V, double inv_t) {
  const double mx = double(*std::max_element(row, row + V)) * inv_t;
  double s = 0;
  for (int j = 0; j < V; ++j) s += std::exp(double(row[j]) * inv_t - mx);
  return mx + std::log(s);
}

// H = -Σ p log p with log p = z/τ - lse.
double row_entropy(const float* row, int V, double lse, double inv_t) {
  double h = 0;
  for (int j = 0; j < V; ++j) {
    const double lp = double(row[j]) * inv_t - lse;
    h -= std::exp(lp) * lp;
  }
  return h;
}

}  // namespace

void token_logprobs(const float* logits, const int32_t* targets, size_t N, int V, float* logp,
                    float* entropy, double temperature) {
  const double inv_t = 1.0 / temperature;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < int64_t(N); ++i) {
    const float* row = logits + size_t(i) * V;
    const double lse = log_sum_exp(row, V, inv_t);
    if (logp) logp[i] = float(double(row[targets[i]]) * inv_t - lse);
    if (entropy) entropy[i] = float(row_entropy(row, V, lse, inv_t));
  }
}

void token_logprobs_backward(float* logits, const int32_t* targets, const float* dlogp,
                             const float* dentropy, const float* row_mask, size_t N, int V,
                             double temperature) {
  const double inv_t = 1.0 / temperature;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < int64_t(N); ++i) {
    float* row = logits + size_t(i) * V;
    if (row_mask && row_mask[i] == 0) {
      std::fill(row, row + V, 0.0f);
      continue;
    }
    const double lse = log_sum_exp(row, V, inv_t);
    const double de = dentropy ? dentropy[i] : 0.0;
    const double h = de != 0 ? row_entropy(row, V, lse, inv_t) : 0.0;
    const double dl = dlogp[i];
    for (int j = 0; j < V; ++j) {
      const double lp = double(row[j]) * inv_t - lse, p = std::exp(lp);
      // u = z/τ: d logp_a/d u_j = [j = a] - p_j; d H/d u_j = -p_j (log p_j + H); du/dz = 1/τ.
      row[j] = float(inv_t * (dl * ((j == targets[i] ? 1.0 : 0.0) - p) - de * p * (lp + h)));
    }
  }
}

}  // namespace lmforge
