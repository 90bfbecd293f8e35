// The machine's fp32 arithmetic ceiling: every OpenMP thread runs 12 independent chains of AVX2
// FMAs (enough to cover the FMA latency on two pipes) for a fixed count, and the best of five
// rounds gives FLOP/s per core and for all threads. This is the "100%" against which training
// throughput targets are judged in docs/PERFORMANCE.md: no GEMM and no training step can exceed it
// in fp32. Not a test. Needs AVX2+FMA (prints a message and exits 0 without them).
// Usage: fma_peak [iterations per thread (2e8)]
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {
__attribute__((target("avx2,fma"))) float chains(long n) {
  __m256 a[12];
  for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps(0.001f * i);
  const __m256 x = _mm256_set1_ps(0.9999f), y = _mm256_set1_ps(1e-5f);
  for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], x, y);
  }
  float s = 0;
  for (int i = 0; i < 12; i++) s += a[i][0];
  return s;  // used, so the loop is not removed
}
}  // namespace

int main(int argc, char** argv) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::printf("fma_peak: this CPU has no AVX2+FMA; nothing measured\n");
    return 0;
  }
  const long n = argc > 1 ? std::atol(argv[1]) : 200000000L;
  const double flops_per_thread = (double)n * 12 * 8 * 2;  // 12 chains x 8 lanes x (mul + add)
  double best = 0, sink = 0;
  int threads = 1;
  for (int round = 0; round < 5; round++) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel reduction(+ : sink)
    {
      sink += chains(n);
#pragma omp single
      threads = omp_get_num_threads();
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (threads * flops_per_thread / s > best) best = threads * flops_per_thread / s;
  }
  std::printf(
      "fp32 FMA peak: %.1f GFLOP/s with %d threads = %.1f per core "
      "(%.2f GHz x 32 FLOP/cycle)%s\n",
      best / 1e9, threads, best / 1e9 / threads, best / 1e9 / threads / 32,
      sink == 12345.0 ? " " : "");
  return 0;
}
