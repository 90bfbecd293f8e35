// AVX2 vs AVX-512 per kernel, same run: every kernel with an AVX-512 twin (isa_kernels.h) is timed
// under backend::IsaCap(avx2) and IsaCap(avx512), alternating the two (best of `reps` each, so
// a burst of load from a neighbour hits both), at the training shapes of the "small" or "tiny"
// config; then the decode linears with bf16 weights (linear_rows_forward_bf16, each ISA path)
// against the fp32 linear_rows_forward for a GPT-2 124M step, as weight GB/s and as a share of the
// read bandwidth bound measured in the same run. On a CPU without AVX-512 the AVX-512 columns
// repeat the AVX2 path (IsaCap cannot raise the level) and say so. Usage: isa_bench [small|tiny]
// [reps (7)]
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "lmforge/backend/bf16.h"
#include "lmforge/backend/isa.h"
#include "lmforge/backend/kernels.h"
#include "lmforge/backend/kernels_infer.h"

namespace {
using namespace lmforge;
using backend::Isa;
using clk = std::chrono::steady_clock;

double since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

std::vector<float> randn(size_t n, float scale = 1.0f) {
  static std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Best time of `run` under each ISA cap, alternating; `setup` (untimed) runs before every call.
std::vector<double> best_per_isa(
    const std::vector<Isa>& isas, int reps, const std::function<void()>& run,
    const std::function<void()>& setup = [] {}) {
  std::vector<double> best(isas.size(), 1e30);
  for (int r = 0; r < reps; r++)
    for (size_t k = 0; k < isas.size(); k++) {
      backend::IsaCap cap(isas[k]);
      setup();
      auto t0 = clk::now();
      run();
      best[k] = std::min(best[k], since(t0));
    }
  return best;
}

void row(const std::string& name, double t2, double t5, double bytes) {
  std::printf("%-28s %9.3f %9.3f %7.2fx %8.1f %8.1f\n", name.c_str(), t2 * 1e3, t5 * 1e3, t2 / t5,
              bytes / t2 / 1e9, bytes / t5 / 1e9);
}

// Read bandwidth (bytes/s) of a 512 MiB buffer summed by all threads (4 independent AVX2 sums
// per thread, so the adds are not the limit): the bound for a decode linear, which reads each
// weight once.
double read_bandwidth() {
  const size_t n = size_t(1) << 27;
  std::vector<float> a(n, 1.0f);
  double best = 1e30, sink = 0.0;
  for (int r = 0; r < 5; r++) {
    auto t0 = clk::now();
    double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static)
    for (size_t b = 0; b < n; b += 4096) {
      __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                       _mm256_setzero_ps()};
      for (size_t i = b; i < b + 4096; i += 32)
        for (int k = 0; k < 4; k++) acc[k] = _mm256_add_ps(acc[k], _mm256_loadu_ps(&a[i + 8 * k]));
      float t[8];
      _mm256_storeu_ps(t,
                       _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
      for (float x : t) s += x;
    }
    best = std::min(best, since(t0));
    sink += s;
  }
  if (sink == 0.0) std::printf("(sink)\n");
  return n * 4.0 / best;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string cfg = argc > 1 ? argv[1] : "small";
  const int reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 7;
  const bool decode_only = argc > 3 && std::string(argv[3]) == "decode";
  const bool small = cfg != "tiny";
  const int B = small ? 8 : 16, T = small ? 256 : 128, C = small ? 384 : 128, NH = small ? 6 : 4,
            V = small ? 8192 : 4096, HS = C / NH, NKV = NH;
  const int N = B * T, QKV = (NH + 2 * NKV) * HS;
  const std::vector<Isa> isas{Isa::avx2, Isa::avx512};
  std::printf("isa_bench %s (B=%d T=%d C=%d NH=%d HS=%d V=%d), %d threads, cpu isa %s%s\n",
              cfg.c_str(), B, T, C, NH, HS, V, omp_get_max_threads(),
              backend::isa_name(backend::cpu_isa()),
              backend::active_isa() < Isa::avx512 ? " (NO AVX-512: both columns are avx2)" : "");
  std::printf("%-28s %9s %9s %8s %8s %8s\n", "kernel", "avx2 ms", "avx512 ms", "speedup",
              "avx2 GB/s", "512 GB/s");
  auto bench = [&](
                   const std::string& name, double bytes, const std::function<void()>& run,
                   const std::function<void()>& setup = [] {}) {
    auto t = best_per_isa(isas, reps, run, setup);
    row(name, t[0], t[1], bytes);
  };

  if (!decode_only) {  // attention (training shapes)
    auto qkv = randn((size_t)N * QKV), dout = randn((size_t)N * C);
    std::vector<float> out((size_t)N * C), lse((size_t)B * NH * T), dqkv((size_t)N * QKV);
    cpu::attention_forward(out.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS);
    const double io = 4.0 * ((double)N * QKV + N * C);
    bench("attention_forward", io,
          [&] { cpu::attention_forward(out.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS); });
    bench("attention_backward", 2 * io, [&] {
      cpu::attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), B, T,
                              NH, NKV, HS);
    });
  }
  if (!decode_only) {  // norms
    auto inp = randn((size_t)N * C), w = randn(C), b = randn(C), dout = randn((size_t)N * C);
    std::vector<float> out((size_t)N * C), mean(N), rstd(N), dinp((size_t)N * C), dw(C), db(C);
    bench("layernorm_forward", 8.0 * N * C, [&] {
      cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(),
                             N, C, 1e-5f);
    });
    bench("layernorm_backward", 16.0 * N * C, [&] {
      cpu::layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(),
                              mean.data(), rstd.data(), N, C);
    });
    bench("rmsnorm_forward", 8.0 * N * C, [&] {
      cpu::rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), N, C, 1e-5f);
    });
    bench("rmsnorm_backward", 16.0 * N * C, [&] {
      cpu::rmsnorm_backward(dinp.data(), dw.data(), dout.data(), inp.data(), w.data(), rstd.data(),
                            N, C);
    });
  }
  if (!decode_only)  // Qwen3's per-head q/k RMSNorm: this config's heads (GQA 3:1 as kernels_bench)
                     // and Qwen3-0.6B's (NH 16, NKV 8, HS 128) on the same N rows
    for (auto [nh, nkv, hs] : {std::tuple{NH, std::max(1, NH / 3), HS}, {16, 8, 128}}) {
      const size_t qkv_w = (size_t)(nh + 2 * nkv) * hs, H = (size_t)nh + nkv;
      auto x0 = randn((size_t)N * qkv_w), d0 = randn((size_t)N * qkv_w), wq = randn(hs),
           wk = randn(hs);
      std::vector<float> x(x0.size()), d(d0.size()), keep((size_t)N * H * hs), rstd((size_t)N * H),
          dwq(hs), dwk(hs);
      const std::string shape = " HS" + std::to_string(hs) + (hs == 128 ? " (qwen3)" : "");
      bench(
          "qk_norm_forward" + shape, 12.0 * N * H * hs,
          [&] {
            cpu::qk_norm_forward(x.data(), keep.data(), rstd.data(), wq.data(), wk.data(), N, nh,
                                 nkv, hs, 1e-6f);
          },
          [&] { std::memcpy(x.data(), x0.data(), x0.size() * 4); });
      bench(
          "qk_norm_backward" + shape, 12.0 * N * H * hs,
          [&] {
            cpu::qk_norm_backward(d.data(), dwq.data(), dwk.data(), keep.data(), wq.data(),
                                  wk.data(), rstd.data(), N, nh, nkv, hs);
          },
          [&] { std::memcpy(d.data(), d0.data(), d0.size() * 4); });
    }
  if (!decode_only) {  // GELU on the MLP's hidden (N, 4C)
    const size_t n = (size_t)N * 4 * C;
    auto inp = randn(n), dout = randn(n);
    std::vector<float> out(n), dinp(n);
    bench("gelu_forward", 8.0 * n, [&] { cpu::gelu_forward(out.data(), inp.data(), n); });
    bench("gelu_backward", 12.0 * n,
          [&] { cpu::gelu_backward(dinp.data(), inp.data(), dout.data(), n); });
  }
  if (!decode_only) {  // cross-entropy on (N, V) logits, fresh each call (the fused kernel
                       // overwrites them)
    auto logits = randn((size_t)N * V, 2.0f);
    std::vector<float> work(logits.size()), losses(N);
    std::vector<int32_t> targets(N);
    for (int i = 0; i < N; i++) targets[i] = (i * 7919) % V;
    bench(
        "cross_entropy_fused", 8.0 * N * V,
        [&] { cpu::cross_entropy_fused(work.data(), losses.data(), targets.data(), 1.0f, N, V); },
        [&] { std::memcpy(work.data(), logits.data(), logits.size() * 4); });
  }
  // Decode linears: fp32 weights (linear_rows_forward, the AVX2 kernel) against bf16 weights on
  // each ISA path, for GPT-2 124M's decode step: 12 layers × (qkv 768->2304, proj 768->768, fc
  // 768->3072, fc_proj 3072->768) with distinct weights (340 MB fp32, 170 MB bf16: far past the
  // caches, as in a real step), and the tied 50257-row lm head.
  const double bw = read_bandwidth();
  std::printf(
      "\ndecode linears (GPT-2 124M), read bandwidth bound %.1f GB/s (%d threads, 512 MiB "
      "sum)\n",
      bw / 1e9, omp_get_max_threads());
  std::printf("%-16s %3s %9s %9s %9s %9s %8s %7s %7s\n", "weights", "N", "fp32 ms", "avx2 ms",
              "avx512 ms", "bf16dp ms", "bf16 GB/s", "bf16/32", "%bound");
  struct Lin {
    int IC, OC;
    std::vector<float> w, bias;
    std::vector<bf16_t> wb;
  };
  auto make = [](int IC, int OC) {
    Lin l{IC, OC, randn((size_t)OC * IC, 0.05f), randn(OC), {}};
    l.wb.resize(l.w.size());
    for (size_t i = 0; i < l.w.size(); i++) l.wb[i] = float_to_bf16(l.w[i]);
    return l;
  };
  std::vector<Lin> layers, head;
  for (int layer = 0; layer < 12; layer++)
    for (auto [IC, OC] : {std::pair{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}})
      layers.push_back(make(IC, OC));
  head.push_back(make(768, 50257));
  const std::vector<Isa> bisas{Isa::avx2, Isa::avx512, Isa::avx512_bf16};
  for (auto* set : {&layers, &head})
    for (int Nr : {1, 4}) {
      double params = 0;
      for (const Lin& l : *set) params += (double)l.IC * l.OC;
      auto x = randn((size_t)Nr * 3072);
      std::vector<float> out((size_t)Nr * 50257);
      auto t32 = best_per_isa({Isa::amx_bf16}, reps, [&] {
        for (const Lin& l : *set)
          cpu::linear_rows_forward(out.data(), x.data(), l.w.data(), l.bias.data(), Nr, l.IC, l.OC);
      });
      auto t16 = best_per_isa(bisas, reps, [&] {
        for (const Lin& l : *set)
          cpu::linear_rows_forward_bf16(out.data(), x.data(), l.wb.data(), l.bias.data(), Nr, l.IC,
                                        l.OC);
      });
      const double best16 = *std::min_element(t16.begin(), t16.end());
      std::printf("%-16s %3d %9.3f %9.3f %9.3f %9.3f %8.1f %6.2fx %6.0f%%\n",
                  set == &layers ? "12 layers x 4" : "lm head", Nr, t32[0] * 1e3, t16[0] * 1e3,
                  t16[1] * 1e3, t16[2] * 1e3, 2.0 * params / best16 / 1e9, t32[0] / best16,
                  100.0 * (2.0 * params / best16) / bw);
    }
  std::printf(
      "(bf16/32: fp32 time over the best bf16 path; bf16 GB/s and %%bound: that path's "
      "weight bytes/s, and over the read bandwidth; a path the CPU lacks runs the next "
      "lower one)\n");
  return 0;
}
