// The softmax cross-entropy bodies, compiled once per ISA (isa_kernels.h): cross_entropy.cpp
// (baseline, cpu::avx2) and cross_entropy_avx512.cpp (cpu::avx512), with targets already
// validated. Rows are independent and parallel. The fused kernel makes three sweeps over one row
// while it is hot in cache (max; exp written in place + sum; scale), so no second (N,V) buffer
// ever exists. The paths differ in the summation order of the row sums only.
// Included with LMFORGE_CPU_ISA defined (and no-trapping-math, see vec_math.h); no include guard.
#include <cmath>

#include "isa_kernels.h"
#include "vec_math.h"

namespace lmforge::cpu::LMFORGE_CPU_ISA {
// Targets are validated by the caller (cross_entropy.cpp): throwing inside an OpenMP region
// would terminate the program. Returns the number of unmasked rows.
static int64_t count_targets(const int32_t* targets, int N) {
  int64_t count = 0;
  for (int n = 0; n < N; n++) count += targets[n] >= 0;
  return count;
}

static float row_max(const float* x, int V) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int i = 0; i < V; i++) mx = x[i] > mx ? x[i] : mx;
  return mx;
}

static float row_sum_exp(const float* x, float mx, int V) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < V; i++) s += exp_approx(x[i] - mx);
  return s;
}

int64_t cross_entropy_forward(float* losses, const float* logits, const int32_t* targets, int N,
                              int V) {
  int64_t count = count_targets(targets, N);
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    if (targets[n] < 0) {
      losses[n] = 0.0f;
      continue;
    }
    const float* x = logits + (size_t)n * V;
    float mx = row_max(x, V);
    losses[n] = mx + std::log(row_sum_exp(x, mx, V)) - x[targets[n]];
  }
  return count;
}

void cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets,
                            float dloss, int N, int V) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const float* x = logits + (size_t)n * V;
    float* d = dlogits + (size_t)n * V;
    if (targets[n] < 0) {
      for (int i = 0; i < V; i++) d[i] = 0.0f;
      continue;
    }
    // Both reductions finish before the first write, so dlogits may alias logits.
    float mx = row_max(x, V);
    float k = dloss / row_sum_exp(x, mx, V);
#pragma omp simd
    for (int i = 0; i < V; i++) d[i] = exp_approx(x[i] - mx) * k;
    d[targets[n]] -= dloss;
  }
}

int64_t cross_entropy_fused(float* logits_to_dlogits, float* losses, const int32_t* targets,
                            float dloss, int N, int V) {
  int64_t count = count_targets(targets, N);
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    float* x = logits_to_dlogits + (size_t)n * V;
    if (targets[n] < 0) {
      losses[n] = 0.0f;
      for (int i = 0; i < V; i++) x[i] = 0.0f;
      continue;
    }
    float mx = row_max(x, V);
    float x_target = x[targets[n]];
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < V; i++) {
      float e = exp_approx(x[i] - mx);
      x[i] = e;
      s += e;
    }
    losses[n] = mx + std::log(s) - x_target;
    float k = dloss / s;
#pragma omp simd
    for (int i = 0; i < V; i++) x[i] *= k;
    x[targets[n]] -= dloss;
  }
  return count;
}

}  // namespace lmforge::cpu::LMFORGE_CPU_ISA
