// SGEMM benchmark: our AVX2/FMA kernel vs OpenBLAS's cblas_sgemm, measured in the same run on
// the linear-layer shapes of the "small" config (N = B·T = 2048, C = 384, V = 8192), forward and
// both backward GEMMs. Prints GFLOP/s for each and the ratio ours/BLAS. Not a test: it checks
// only that the two agree to a loose tolerance so a broken kernel cannot post a fast number.
// The last lines time a GPT-2 MLP forward+backward (GEMMs interleaved with OpenMP LayerNorm
// and GELU kernels, as in training) with each GEMM path (ours, OpenBLAS, oneDNN fp32, oneDNN
// bf16 where native, emulated bf16): what the GEMM costs in context, where OpenBLAS's own thread
// pool competes with OpenMP's for the same cores. bench/gemm_precision_bench compares the paths
// shape by shape.
// Usage: gemm_bench [reps]   (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS control the threads)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/gemm_avx2.h"
#include "backend/cpu/gemm_dispatch.h"
#include "backend/cpu/gemm_onednn.h"
#include "lmforge/backend/isa.h"
#include "lmforge/backend/kernels.h"

namespace {
using Fn = void (*)(bool, bool, int, int, int, float, const float*, int, const float*, int, float,
                    float*, int);

struct Case {
  const char* name;
  bool ta, tb;
  int M, N, K;
  float beta;
};

double best_seconds(Fn fn, const Case& c, const std::vector<float>& A, const std::vector<float>& B,
                    std::vector<float>& C, int reps) {
  int lda = c.ta ? c.M : c.K, ldb = c.tb ? c.K : c.N;
  double best = 1e30;
  for (int r = 0; r < reps + 1; r++) {  // first run warms caches, page tables and threads
    auto t0 = std::chrono::steady_clock::now();
    fn(c.ta, c.tb, c.M, c.N, c.K, 1.0f, A.data(), lda, B.data(), ldb, c.beta, C.data(), c.N);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, s);
  }
  return best;
}
}  // namespace

int main(int argc, char** argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  const int Nrows = 2048, C = 384, V = 8192;
  // Linear layers of "small": qkv (C→3C), fc (C→4C), proj (4C→C), lm head (C→V).
  // forward: out = inp·Wᵀ (nt); dinp = dout·W (nn); dW += doutᵀ·inp (tn, beta 1).
  std::vector<Case> cases;
  const std::pair<int, int> layers[] = {{C, 3 * C}, {C, 4 * C}, {4 * C, C}, {C, V}};
  std::vector<std::string> names;
  for (auto [IC, OC] : layers) {
    char buf[3][64];
    std::snprintf(buf[0], 64, "fwd  %4dx%-4d·(%dx%d)T", Nrows, IC, OC, IC);
    std::snprintf(buf[1], 64, "dinp %4dx%-4d·(%dx%d)", Nrows, OC, OC, IC);
    std::snprintf(buf[2], 64, "dW   (%dx%d)T·%dx%d", Nrows, OC, Nrows, IC);
    for (auto& b : buf) names.emplace_back(b);
  }
  int li = 0;
  for (auto [IC, OC] : layers) {
    cases.push_back({names[li++].c_str(), false, true, Nrows, OC, IC, 0.0f});
    cases.push_back({names[li++].c_str(), false, false, Nrows, IC, OC, 0.0f});
    cases.push_back({names[li++].c_str(), true, false, OC, IC, Nrows, 1.0f});
  }
  std::printf("%-30s %10s %10s %8s\n", "shape", "ours GF/s", "blas GF/s", "ratio");
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  double sum_ours = 0, sum_blas = 0, worst_ratio = 1e9;
  for (const Case& c : cases) {
    std::vector<float> A((size_t)c.M * c.K), B((size_t)c.K * c.N), C1((size_t)c.M * c.N, 0.0f),
        C2((size_t)c.M * c.N, 0.0f);
    for (auto& x : A) x = dist(rng);
    for (auto& x : B) x = dist(rng);
    double flops = 2.0 * c.M * c.N * c.K;
    double t_ours = best_seconds(lmforge::cpu::sgemm_avx2, c, A, B, C1, reps);
    double t_blas = best_seconds(lmforge::cpu::sgemm_blas, c, A, B, C2, reps);
    // With beta = 1 both have accumulated reps+1 products: compare them after one clean call.
    Case once = c;
    once.beta = 0.0f;
    best_seconds(lmforge::cpu::sgemm_avx2, once, A, B, C1, 0);
    best_seconds(lmforge::cpu::sgemm_blas, once, A, B, C2, 0);
    double max_err = 0;
    for (size_t i = 0; i < C1.size(); i++)
      max_err = std::max(max_err, (double)std::abs(C1[i] - C2[i]));
    if (max_err > 1e-2) {
      std::fprintf(stderr, "%s: kernels disagree (max |diff| %g)\n", c.name, max_err);
      return 1;
    }
    double g_ours = flops / t_ours / 1e9, g_blas = flops / t_blas / 1e9;
    sum_ours += t_ours;
    sum_blas += t_blas;
    worst_ratio = std::min(worst_ratio, g_ours / g_blas);
    std::printf("%-30s %10.1f %10.1f %8.2f\n", c.name, g_ours, g_blas, g_ours / g_blas);
  }
  std::printf("total time ours %.1f ms, blas %.1f ms, ratio (blas/ours time) %.2f, worst %.2f\n",
              sum_ours * 1e3, sum_blas * 1e3, sum_blas / sum_ours, worst_ratio);

  // MLP block in context: ln → fc (C→4C) → gelu → proj (4C→C), then the backward.
  const int F = 4 * C;
  auto buf = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng) * 0.1f;
    return v;
  };
  auto x = buf((size_t)Nrows * C), ln = buf((size_t)Nrows * C), h = buf((size_t)Nrows * F),
       g = buf((size_t)Nrows * F), y = buf((size_t)Nrows * C), w_fc = buf((size_t)F * C),
       w_pr = buf((size_t)C * F), dw_fc = buf((size_t)F * C), dw_pr = buf((size_t)C * F),
       lw = buf(C), lb = buf(C), mean = buf(Nrows), rstd = buf(Nrows), dg = buf((size_t)Nrows * F),
       dh = buf((size_t)Nrows * F), dln = buf((size_t)Nrows * C), dx = buf((size_t)Nrows * C),
       dlw = buf(C), dlb = buf(C);
  auto mlp = [&](Fn fn) {
    lmforge::cpu::layernorm_forward(ln.data(), mean.data(), rstd.data(), x.data(), lw.data(),
                                    lb.data(), Nrows, C, 1e-5f);
    fn(false, true, Nrows, F, C, 1.0f, ln.data(), C, w_fc.data(), C, 0.0f, h.data(), F);
    lmforge::cpu::gelu_forward(g.data(), h.data(), (size_t)Nrows * F);
    fn(false, true, Nrows, C, F, 1.0f, g.data(), F, w_pr.data(), F, 0.0f, y.data(), C);
    // backward with dout = y
    fn(false, false, Nrows, F, C, 1.0f, y.data(), C, w_pr.data(), F, 0.0f, dg.data(), F);
    fn(true, false, C, F, Nrows, 1.0f, y.data(), C, g.data(), F, 1.0f, dw_pr.data(), F);
    lmforge::cpu::gelu_backward(dh.data(), h.data(), dg.data(), (size_t)Nrows * F);
    fn(false, false, Nrows, C, F, 1.0f, dh.data(), F, w_fc.data(), C, 0.0f, dln.data(), C);
    fn(true, false, F, C, Nrows, 1.0f, dh.data(), F, ln.data(), C, 1.0f, dw_fc.data(), C);
    lmforge::cpu::layernorm_backward(dx.data(), dlw.data(), dlb.data(), dln.data(), x.data(),
                                     lw.data(), mean.data(), rstd.data(), Nrows, C);
  };
  // Every GEMM path in turn, interleaved, first round discarded (warm-up). Wall time and the
  // process's CPU time (a library whose threads spin while waiting shows it there).
  using lmforge::backend::Precision;
  std::vector<std::pair<const char*, Fn>> paths = {
      {"ours avx2", lmforge::cpu::sgemm_avx2},
      {"openblas", lmforge::cpu::sgemm_blas},
      {"onednn fp32",
       [](bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
         lmforge::cpu::gemm_onednn(Precision::fp32, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,
                                   ldc);
       }},
      {"onednn bf16",
       [](bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
         lmforge::cpu::gemm_onednn(Precision::bf16, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,
                                   ldc);
       }},
      {"emulated bf16", lmforge::cpu::gemm_bf16_emulated}};
  if (!lmforge::backend::native_bf16()) paths.erase(paths.begin() + 3);  // oneDNN bf16: native only
  const int n_paths = int(paths.size());
  double t_mlp[5] = {1e30, 1e30, 1e30, 1e30, 1e30}, c_mlp[5] = {1e30, 1e30, 1e30, 1e30, 1e30};
  auto cpu_now = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  };
  for (int r = 0; r < reps + 1; r++)
    for (int k = 0; k < n_paths; k++) {
      auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_now();
      mlp(paths[k].second);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r > 0) t_mlp[k] = std::min(t_mlp[k], s), c_mlp[k] = std::min(c_mlp[k], cpu_now() - c0);
    }
  std::printf(
      "MLP block fwd+bwd in context (ms, wall / process CPU; ratio = ours avx2 wall / "
      "this wall):\n");
  for (int k = 0; k < n_paths; k++)
    std::printf("  %-14s %7.1f / %7.1f  %5.2f\n", paths[k].first, t_mlp[k] * 1e3, c_mlp[k] * 1e3,
                t_mlp[0] / t_mlp[k]);
  return 0;
}
