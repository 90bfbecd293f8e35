// CPU (float, OpenMP) softmax cross-entropy with a loss mask (target < 0 = masked row): the
// public kernels validate the targets, then dispatch to the AVX-512 twin
// (cross_entropy_avx512.cpp) or the baseline build of the same bodies (cross_entropy_kernels.h).
#pragma GCC optimize("no-trapping-math")  // see vec_math.h: lets exp loops vectorize
#include <string>

#include "lmforge/core/error.h"
#define LMFORGE_CPU_ISA avx2
#include "cross_entropy_kernels.h"

namespace lmforge::cpu {
namespace {
// Targets are validated up front: throwing inside an OpenMP region would terminate the program.
void validate_targets(const int32_t* targets, int N, int V) {
  for (int n = 0; n < N; n++)
    check(targets[n] < V, "cross_entropy",
          "target " + std::to_string(targets[n]) + " out of range for V=" + std::to_string(V) +
              " at row " + std::to_string(n));
}
}  // namespace

int64_t cross_entropy_forward(float* losses, const float* logits, const int32_t* targets, int N,
                              int V) {
  validate_targets(targets, N, V);
  return use_avx512() ? avx512::cross_entropy_forward(losses, logits, targets, N, V)
                      : avx2::cross_entropy_forward(losses, logits, targets, N, V);
}

void cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets,
                            float dloss, int N, int V) {
  validate_targets(targets, N, V);
  if (use_avx512()) return avx512::cross_entropy_backward(dlogits, logits, targets, dloss, N, V);
  avx2::cross_entropy_backward(dlogits, logits, targets, dloss, N, V);
}

int64_t cross_entropy_fused(float* logits_to_dlogits, float* losses, const int32_t* targets,
                            float dloss, int N, int V) {
  validate_targets(targets, N, V);
  return use_avx512() ? avx512::cross_entropy_fused(logits_to_dlogits, losses, targets, dloss, N, V)
                      : avx2::cross_entropy_fused(logits_to_dlogits, losses, targets, dloss, N, V);
}

}  // namespace lmforge::cpu
