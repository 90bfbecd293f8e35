// GEMM by library and precision, same run: our AVX2 kernel, OpenBLAS, oneDNN fp32, oneDNN bf16
// (the conversion of A and B to bf16 included, as cpu::gemm does it) and the emulated bf16 path
// (inputs rounded, then the fp32 GEMM cpu::gemm picks), in GFLOP/s, with ratios against the best
// fp32 library. Shapes: M=1024 N=K=768, then every linear layer of the "tiny" (C=128, FF=512,
// V=4096) and "small" (C=384, FF=1536, V=8192) training configs at N = B·T = 2048 rows: forward
// (B transposed), dinp (plain) and dW (A transposed, beta 1). Each thread count in turn.
// It runs at the process's ISA: LMFORGE_ISA=avx2|avx512|avx512_bf16 caps ours and oneDNN (the
// "onednn impl" column names oneDNN's kernel); OpenBLAS picks its own kernel (OPENBLAS_CORETYPE).
// Not a test, but a path whose result strays from our kernel's (normwise relative error above
// 1e-5 for fp32, 1e-2 for bf16) stops the run, so a broken path cannot post a fast number.
// Usage: gemm_precision_bench [reps=3] [threads=1,2] [shapes=all|head|few|tiny|small]
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/gemm_avx2.h"
#include "backend/cpu/gemm_dispatch.h"
#include "backend/cpu/gemm_onednn.h"
#include "lmforge/backend/bf16.h"
#include "lmforge/backend/isa.h"
#include "lmforge/backend/kernels.h"

namespace {
using namespace lmforge;
using backend::Precision;

struct Case {
  std::string name;
  bool ta, tb;
  int M, N, K;
  float beta;
};

using Fn = void (*)(bool, bool, int, int, int, float, const float*, int, const float*, int, float,
                    float*, int);

void onednn_fp32(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  cpu::gemm_onednn(Precision::fp32, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void onednn_bf16(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  cpu::gemm_onednn(Precision::bf16, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// With one thread every library computes on the calling thread, so its CPU time is measured
// (descheduling on a shared machine then costs nothing); with more, wall time.
bool g_cpu_clock = false;
double now() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best of reps timed calls after one warm-up call (caches, page tables, primitive creation).
double best_seconds(Fn fn, const Case& c, const float* A, const float* B, float* C, int reps) {
  const int lda = c.ta ? c.M : c.K, ldb = c.tb ? c.K : c.N;
  double best = 1e30;
  for (int r = 0; r <= reps; r++) {
    double t0 = now();
    fn(c.ta, c.tb, c.M, c.N, c.K, 1.0f, A, lda, B, ldb, c.beta, C, c.N);
    if (r > 0) best = std::min(best, now() - t0);
  }
  return best;
}

double rel_err(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); i++) {
    num += double(got[i] - want[i]) * (got[i] - want[i]);
    den += double(want[i]) * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

std::string impl(Precision p, const Case& c) {
  try {
    return cpu::onednn_impl(p, c.ta, c.tb, c.M, c.N, c.K);
  } catch (const std::exception&) {
    return "none";
  }
}

void add_model(std::vector<Case>& cases, const char* model, int rows, int C, int FF, int V) {
  const struct {
    const char* layer;
    int IC, OC;
  } layers[] = {
      {"qkv", C, 3 * C}, {"attn proj", C, C}, {"fc", C, FF}, {"fc proj", FF, C}, {"lm head", C, V}};
  for (auto l : layers) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s %s fwd  %dx%dx%d nt", model, l.layer, rows, l.OC, l.IC);
    cases.push_back({buf, false, true, rows, l.OC, l.IC, 0.0f});
    std::snprintf(buf, sizeof buf, "%s %s dinp %dx%dx%d nn", model, l.layer, rows, l.IC, l.OC);
    cases.push_back({buf, false, false, rows, l.IC, l.OC, 0.0f});
    std::snprintf(buf, sizeof buf, "%s %s dW   %dx%dx%d tn", model, l.layer, l.OC, l.IC, rows);
    cases.push_back({buf, true, false, l.OC, l.IC, rows, 1.0f});
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 3;
  std::vector<int> threads;
  for (const char* s = argc > 2 ? argv[2] : "1,2"; *s;) {
    threads.push_back(std::atoi(s));
    while (*s && *s != ',') s++;
    if (*s) s++;
  }
  const std::string which = argc > 3 ? argv[3] : "all";
  std::vector<Case> cases;
  if (which == "all" || which == "head") {
    cases.push_back({"head 1024x768x768 nt", false, true, 1024, 768, 768, 0.0f});
    cases.push_back({"head 1024x768x768 nn", false, false, 1024, 768, 768, 0.0f});
  }
  if (which == "all" || which == "few")  // few rows: prefill of short prompts, batched decode
    for (int M : {1, 4, 16, 64}) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "few %dx2304x768 nt", M);
      cases.push_back({buf, false, true, M, 2304, 768, 0.0f});
    }
  if (which == "all" || which == "tiny") add_model(cases, "tiny", 2048, 128, 512, 4096);
  if (which == "all" || which == "small") add_model(cases, "small", 2048, 384, 1536, 8192);

  double load[3] = {0, 0, 0};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    std::fclose(f);
  }
  std::printf("isa %s (cpu %s), oneDNN %s at %s, cpu::gemm fp32 = %s, bf16 = %s, load %.2f\n",
              backend::isa_name(backend::active_isa()), backend::isa_name(backend::cpu_isa()),
              cpu::onednn_name().c_str(), backend::isa_name(cpu::onednn_isa()),
              backend::gemm_name(Precision::fp32).c_str(),
              cpu::bf16_on_onednn() ? "onednn bf16" : "emulated", load[0]);

  const Fn fp32_fns[] = {cpu::sgemm_avx2, cpu::sgemm_blas, onednn_fp32};
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (int t : threads) {
    omp_set_num_threads(t);
    openblas_set_num_threads(t);
    g_cpu_clock = t == 1;
    std::printf("\n%d thread(s), GFLOP/s by %s (bf16 columns include converting A and B)\n", t,
                g_cpu_clock ? "thread CPU time" : "wall time");
    std::printf("%-36s %7s %7s %7s %7s %7s | %6s %6s %6s | %s\n", "shape", "avx2", "blas", "dnnl32",
                "dnnl16", "emu16", "16/b32", "d32/a", "cvt%", "onednn impl fp32 / bf16");
    double total[5] = {0, 0, 0, 0, 0};
    for (const Case& c : cases) {
      const size_t na = (size_t)c.M * c.K, nb = (size_t)c.K * c.N, nc = (size_t)c.M * c.N;
      std::vector<float> A(na), B(nb), want(nc), got(nc);
      for (auto& x : A) x = dist(rng);
      for (auto& x : B) x = dist(rng);
      const double flops = 2.0 * c.M * c.N * c.K;
      double sec[5];
      for (int k = 0; k < 5; k++) {
        Fn fn = k < 3 ? fp32_fns[k] : k == 3 ? onednn_bf16 : cpu::gemm_bf16_emulated;
        std::fill(got.begin(), got.end(), 0.0f);
        try {
          sec[k] = best_seconds(fn, c, A.data(), B.data(), got.data(), reps);
        } catch (const std::exception&) {  // oneDNN 2.6 has no bf16 matmul at avx2
          sec[k] = NAN;
          continue;
        }
        total[k] += sec[k];  // NaN when a path is missing
        // Correctness: one call with beta = 0 against our kernel's.
        Case once = c;
        once.beta = 0.0f;
        best_seconds(fn, once, A.data(), B.data(), (k == 0 ? want : got).data(), 0);
        const double err = k == 0 ? 0.0 : rel_err(got, want);
        if (err > (k < 3 ? 1e-5 : 1e-2)) {
          std::fprintf(stderr, "%s: path %d disagrees with ours (rel err %g)\n", c.name.c_str(), k,
                       err);
          return 1;
        }
      }
      // The conversion alone: A and B to bf16, as gemm_onednn does it.
      std::vector<bf16_t> a16(na), b16(nb);
      double cvt = 1e30;
      for (int r = 0; r <= reps; r++) {
        double t0 = now();
        cpu::convert_to_bf16(a16.data(), A.data(), na);
        cpu::convert_to_bf16(b16.data(), B.data(), nb);
        if (r > 0) cvt = std::min(cvt, now() - t0);
      }
      const double best32 = std::min({sec[0], sec[1], sec[2]});
      std::printf("%-36s %7.1f %7.1f %7.1f %7.1f %7.1f | %6.2f %6.2f %5.0f%% | %s / %s\n",
                  c.name.c_str(), flops / sec[0] / 1e9, flops / sec[1] / 1e9, flops / sec[2] / 1e9,
                  flops / sec[3] / 1e9, flops / sec[4] / 1e9, best32 / sec[3], sec[0] / sec[2],
                  100.0 * cvt / sec[3], impl(Precision::fp32, c).c_str(),
                  impl(Precision::bf16, c).c_str());
    }
    std::printf("total ms: avx2 %.1f, blas %.1f, dnnl32 %.1f, dnnl16 %.1f, emu16 %.1f\n",
                total[0] * 1e3, total[1] * 1e3, total[2] * 1e3, total[3] * 1e3, total[4] * 1e3);
  }
  std::printf(
      "(16/b32: oneDNN bf16 speed over the best fp32 library; d32/a: oneDNN fp32 over our "
      "AVX2 kernel; cvt%%: share of the bf16 call spent converting A and B)\n");
  // What a shape seen for the first time costs on top of the call: creating the primitive
  // descriptor and primitive (JIT), on the calling thread (its CPU time, averaged over 8 shapes).
  g_cpu_clock = true;
  for (Precision p : {Precision::fp32, Precision::bf16}) {
    const double t0 = now();
    std::string impl_name;
    for (int M = 991; M < 999; M++) {
      try {
        impl_name = cpu::onednn_impl(p, false, true, M, 768, 768);
      } catch (const std::exception&) {
        impl_name = "none";
      }
    }
    std::printf("oneDNN %s primitive for a new shape (Mx768x768, %s): %.2f ms CPU\n",
                backend::precision_name(p), impl_name.c_str(), (now() - t0) / 8 * 1e3);
  }
  return 0;
}
