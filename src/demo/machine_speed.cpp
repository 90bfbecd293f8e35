// The demo's speed probe: how fast this machine multiplies fp32 matrices with the GEMM training
// uses (cpu::sgemm), compared by `lmforge demo` with the reference machine's rate to size the
// model and steps. A throughput, deliberately not the arithmetic peak of backend/peak.h (which is
// MFU's denominator): the demo needs what training will actually get.
#include <algorithm>
#include <chrono>
#include <vector>

#include "lmforge/backend/kernels.h"
#include "lmforge/demo/pipeline.h"

namespace lmforge {

double measure_sgemm_gflops() {
  const int n = 1024;
  std::vector<float> a(size_t(n) * n, 0.5f), b(a.size(), 0.25f), c(a.size(), 0.0f);
  double best = 1e30;
  for (int rep = 0; rep < 4; ++rep) {  // the first call warms caches and thread pools
    auto t0 = std::chrono::steady_clock::now();
    cpu::sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) best = std::min(best, s);
  }
  return 2.0 * n * n * n / best / 1e9;
}

}  // namespace lmforge
