// Reference (double, naive) softmax cross-entropy with a loss mask (target < 0 = masked row).
// The oracle for cpu/cross_entropy.cpp. Targets >= V are a caller bug and throw.
#include <cmath>
#include <string>

#include "lmforge/backend/kernels.h"
#include "lmforge/core/error.h"

namespace lmforge::ref {
namespace {
double logsumexp(const double* x, int V) {
  double mx = -INFINITY;
  for (int i = 0; i < V; i++) mx = std::max(mx, x[i]);
  double s = 0.0;
  for (int i = 0; i < V; i++) s += std::exp(x[i] - mx);
  return mx + std::log(s);
}
void check_target(int32_t t, int V) {
  check(t < V, "cross_entropy",
        "target " + std::to_string(t) + " out of range for V=" + std::to_string(V));
}
}  // namespace

int64_t cross_entropy_forward(double* losses, const double* logits, const int32_t* targets, int N,
                              int V) {
  int64_t count = 0;
  for (int n = 0; n < N; n++) {
    check_target(targets[n], V);
    if (targets[n] < 0) {
      losses[n] = 0.0;
      continue;
    }
    const double* x = logits + (size_t)n * V;
    losses[n] = logsumexp(x, V) - x[targets[n]];
    count++;
  }
  return count;
}

void cross_entropy_backward(double* dlogits, const double* logits, const int32_t* targets,
                            double dloss, int N, int V) {
  for (int n = 0; n < N; n++) {
    check_target(targets[n], V);
    const double* x = logits + (size_t)n * V;
    double* d = dlogits + (size_t)n * V;
    if (targets[n] < 0) {
      for (int i = 0; i < V; i++) d[i] = 0.0;
      continue;
    }
    double lse = logsumexp(x, V);  // computed before any write: dlogits may alias logits
    for (int i = 0; i < V; i++)
      d[i] = (std::exp(x[i] - lse) - (i == targets[n] ? 1.0 : 0.0)) * dloss;
  }
}

int64_t cross_entropy_fused(double* logits_to_dlogits, double* losses, const int32_t* targets,
                            double dloss, int N, int V) {
  int64_t count = cross_entropy_forward(losses, logits_to_dlogits, targets, N, V);
  cross_entropy_backward(logits_to_dlogits, logits_to_dlogits, targets, dloss, N, V);
  return count;
}

}  // namespace lmforge::ref
