// Per-kernel benchmark of the CPU backend at the "small" config's shapes (B=8, T=256, C=384,
// NH=6, HS=64, V=8192; Llama-style ops with NKV=2, FF=1024). Each line times the float CPU kernel
// (best of `reps`) and the double reference oracle (once) in the same run and prints the ratio,
// plus the CPU kernel's effective GB/s (memory-bound ops) or GFLOP/s (attention).
// Usage: kernels_bench [reps]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include "lmforge/backend/kernels.h"

namespace {
using namespace lmforge;

double seconds(const std::function<void()>& fn, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

template <typename T>
std::vector<T> randn(size_t n, double scale = 1.0) {
  static std::mt19937 rng(1);
  std::normal_distribution<double> d(0.0, scale);
  std::vector<T> v(n);
  for (auto& x : v) x = (T)d(rng);
  return v;
}

// Buffers of both precisions for one op.
struct Buf {
  std::vector<float> f;
  std::vector<double> d;
  explicit Buf(size_t n, double scale = 1.0) : f(randn<float>(n, scale)), d(f.begin(), f.end()) {}
};

void row(const char* name, double t_cpu, double t_ref, double amount, const char* unit) {
  std::printf("%-26s %9.3f %10.2f %8.1fx %9.1f %s\n", name, t_cpu * 1e3, t_ref * 1e3, t_ref / t_cpu,
              amount / t_cpu / 1e9, unit);
}
}  // namespace

int main(int argc, char** argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  const int B = 8, T = 256, C = 384, NH = 6, HS = 64, V = 8192, NKV = 2, FF = 1024;
  const int N = B * T;
  std::printf("%-26s %9s %10s %9s %9s\n", "kernel (small config)", "cpu ms", "ref ms", "ref/cpu",
              "cpu rate");

  {  // LayerNorm / RMSNorm: bytes = read inp + write out (fwd); read inp, dout, rw dinp (bwd)
    Buf inp(N * C), out(N * C), w(C), b(C), mean(N), rstd(N), dout(N * C), dinp(N * C), dw(C),
        db(C);
    double fb = 2.0 * N * C * 4, bb = 4.0 * N * C * 4;
    row("layernorm_forward",
        seconds(
            [&] {
              cpu::layernorm_forward(out.f.data(), mean.f.data(), rstd.f.data(), inp.f.data(),
                                     w.f.data(), b.f.data(), N, C, 1e-5f);
            },
            reps),
        seconds(
            [&] {
              ref::layernorm_forward(out.d.data(), mean.d.data(), rstd.d.data(), inp.d.data(),
                                     w.d.data(), b.d.data(), N, C, 1e-5);
            },
            1),
        fb, "GB/s");
    row("layernorm_backward",
        seconds(
            [&] {
              cpu::layernorm_backward(dinp.f.data(), dw.f.data(), db.f.data(), dout.f.data(),
                                      inp.f.data(), w.f.data(), mean.f.data(), rstd.f.data(), N, C);
            },
            reps),
        seconds(
            [&] {
              ref::layernorm_backward(dinp.d.data(), dw.d.data(), db.d.data(), dout.d.data(),
                                      inp.d.data(), w.d.data(), mean.d.data(), rstd.d.data(), N, C);
            },
            1),
        bb, "GB/s");
    row("rmsnorm_forward",
        seconds(
            [&] {
              cpu::rmsnorm_forward(out.f.data(), rstd.f.data(), inp.f.data(), w.f.data(), N, C,
                                   1e-6f);
            },
            reps),
        seconds(
            [&] {
              ref::rmsnorm_forward(out.d.data(), rstd.d.data(), inp.d.data(), w.d.data(), N, C,
                                   1e-6);
            },
            1),
        fb, "GB/s");
    row("rmsnorm_backward",
        seconds(
            [&] {
              cpu::rmsnorm_backward(dinp.f.data(), dw.f.data(), dout.f.data(), inp.f.data(),
                                    w.f.data(), rstd.f.data(), N, C);
            },
            reps),
        seconds(
            [&] {
              ref::rmsnorm_backward(dinp.d.data(), dw.d.data(), dout.d.data(), inp.d.data(),
                                    w.d.data(), rstd.d.data(), N, C);
            },
            1),
        bb, "GB/s");
  }
  {  // Attention, MHA (GPT-2 small) and GQA (Llama-style): causal FLOPs = 2·2·B·NH·T²/2·HS fwd
    for (int nkv : {NH, NKV}) {
      int QKV = (NH + 2 * nkv) * HS;
      Buf qkv(N * QKV), out(N * NH * HS), lse(B * NH * T), dout(N * NH * HS), dqkv(N * QKV);
      double flops = 2.0 * B * NH * (double)T * T * HS;
      row(nkv == NH ? "attention_forward" : "attention_forward gqa",
          seconds(
              [&] {
                cpu::attention_forward(out.f.data(), lse.f.data(), qkv.f.data(), B, T, NH, nkv, HS);
              },
              reps),
          seconds(
              [&] {
                ref::attention_forward(out.d.data(), lse.d.data(), qkv.d.data(), B, T, NH, nkv, HS);
              },
              1),
          flops, "GFLOP/s");
      // Backward: 5 T×T×HS products (S, dP, dV, dK, dQ) vs forward's 2.
      row(nkv == NH ? "attention_backward" : "attention_backward gqa",
          seconds(
              [&] {
                cpu::attention_backward(dqkv.f.data(), dout.f.data(), qkv.f.data(), out.f.data(),
                                        lse.f.data(), B, T, NH, nkv, HS);
              },
              reps),
          seconds(
              [&] {
                ref::attention_backward(dqkv.d.data(), dout.d.data(), qkv.d.data(), out.d.data(),
                                        lse.d.data(), B, T, NH, nkv, HS);
              },
              1),
          flops * 2.5, "GFLOP/s");
    }
  }
  {  // RoPE on the Llama-style qkv
    int QKV = (NH + 2 * NKV) * HS;
    Buf qkv(N * QKV);
    row("rope_forward",
        seconds([&] { cpu::rope_forward(qkv.f.data(), B, T, NH, NKV, HS, 10000.0f, 0); }, reps),
        seconds([&] { ref::rope_forward(qkv.d.data(), B, T, NH, NKV, HS, 10000.0, 0); }, 1),
        2.0 * N * (NH + NKV) * HS * 4, "GB/s");
  }
  {  // Qwen3's per-head q/k RMSNorm on the Llama-style qkv
    int QKV = (NH + 2 * NKV) * HS, H = NH + NKV;
    Buf qkv(N * QKV), keep((size_t)N * H * HS), rstd((size_t)N * H), wq(HS), wk(HS);
    Buf dwq(HS), dwk(HS);
    row("qk_norm_forward",
        seconds(
            [&] {
              cpu::qk_norm_forward(qkv.f.data(), keep.f.data(), rstd.f.data(), wq.f.data(),
                                   wk.f.data(), N, NH, NKV, HS, 1e-6f);
            },
            reps),
        seconds(
            [&] {
              ref::qk_norm_forward(qkv.d.data(), keep.d.data(), rstd.d.data(), wq.d.data(),
                                   wk.d.data(), N, NH, NKV, HS, 1e-6);
            },
            1),
        3.0 * N * H * HS * 4, "GB/s");
    row("qk_norm_backward",
        seconds(
            [&] {
              cpu::qk_norm_backward(qkv.f.data(), dwq.f.data(), dwk.f.data(), keep.f.data(),
                                    wq.f.data(), wk.f.data(), rstd.f.data(), N, NH, NKV, HS);
            },
            reps),
        seconds(
            [&] {
              ref::qk_norm_backward(qkv.d.data(), dwq.d.data(), dwk.d.data(), keep.d.data(),
                                    wq.d.data(), wk.d.data(), rstd.d.data(), N, NH, NKV, HS);
            },
            1),
        3.0 * N * H * HS * 4, "GB/s");
  }
  {  // GELU on (N, 4C), SwiGLU on (N, 2FF)
    size_t n = (size_t)N * 4 * C;
    Buf inp(n), out(n), dout(n), dinp(n);
    row("gelu_forward", seconds([&] { cpu::gelu_forward(out.f.data(), inp.f.data(), n); }, reps),
        seconds([&] { ref::gelu_forward(out.d.data(), inp.d.data(), n); }, 1), 2.0 * n * 4, "GB/s");
    row("gelu_backward",
        seconds([&] { cpu::gelu_backward(dinp.f.data(), inp.f.data(), dout.f.data(), n); }, reps),
        seconds([&] { ref::gelu_backward(dinp.d.data(), inp.d.data(), dout.d.data(), n); }, 1),
        3.0 * n * 4, "GB/s");
    Buf gu((size_t)N * 2 * FF), o((size_t)N * FF), d((size_t)N * FF), dgu((size_t)N * 2 * FF);
    row("swiglu_forward",
        seconds([&] { cpu::swiglu_forward(o.f.data(), gu.f.data(), N, FF); }, reps),
        seconds([&] { ref::swiglu_forward(o.d.data(), gu.d.data(), N, FF); }, 1), 3.0 * N * FF * 4,
        "GB/s");
    row("swiglu_backward",
        seconds([&] { cpu::swiglu_backward(dgu.f.data(), d.f.data(), gu.f.data(), N, FF); }, reps),
        seconds([&] { ref::swiglu_backward(dgu.d.data(), d.d.data(), gu.d.data(), N, FF); }, 1),
        5.0 * N * FF * 4, "GB/s");
  }
  {  // Cross-entropy over (N, V): fused vs forward + backward
    Buf logits((size_t)N * V, 3.0), losses(N), dl((size_t)N * V);
    std::vector<int32_t> tg(N);
    for (int i = 0; i < N; i++) tg[i] = (i * 7919) % V;
    double bytes = 2.0 * N * V * 4;
    row("cross_entropy fwd+bwd",
        seconds(
            [&] {
              cpu::cross_entropy_forward(losses.f.data(), logits.f.data(), tg.data(), N, V);
              cpu::cross_entropy_backward(dl.f.data(), logits.f.data(), tg.data(), 1.0f, N, V);
            },
            reps),
        seconds(
            [&] {
              ref::cross_entropy_forward(losses.d.data(), logits.d.data(), tg.data(), N, V);
              ref::cross_entropy_backward(dl.d.data(), logits.d.data(), tg.data(), 1.0, N, V);
            },
            1),
        bytes, "GB/s");
    std::vector<float> scratch = logits.f;
    row("cross_entropy_fused",
        seconds(
            [&] {
              scratch = logits.f;  // (copy included: the fused kernel consumes its input)
              cpu::cross_entropy_fused(scratch.data(), losses.f.data(), tg.data(), 1.0f, N, V);
            },
            reps),
        seconds(
            [&] {
              std::vector<double> s = logits.d;
              ref::cross_entropy_fused(s.data(), losses.d.data(), tg.data(), 1.0, N, V);
            },
            1),
        bytes, "GB/s");
  }
  {  // AdamW over ~10M parameters (the "small" model): reads p, g, m, v, writes p, m, v
    size_t n = 10'000'000;
    Buf p(n), g(n), m(n), v(n, 0.1);
    for (auto& x : v.f) x = x * x;
    for (auto& x : v.d) x = x * x;
    row("adamw_update",
        seconds(
            [&] {
              cpu::adamw_update(p.f.data(), g.f.data(), m.f.data(), v.f.data(), n, 1e-3f, 0.9f,
                                0.95f, 1e-8f, 0.1f, 10);
            },
            reps),
        seconds(
            [&] {
              ref::adamw_update(p.d.data(), g.d.data(), m.d.data(), v.d.data(), n, 1e-3, 0.9, 0.95,
                                1e-8, 0.1, 10);
            },
            1),
        7.0 * n * 4, "GB/s");
    row("sum_squares",
        seconds(
            [&] {
              volatile double s = cpu::sum_squares(g.f.data(), n);
              (void)s;
            },
            reps),
        seconds(
            [&] {
              volatile double s = ref::sum_squares(g.d.data(), n);
              (void)s;
            },
            1),
        1.0 * n * 4, "GB/s");
  }
  return 0;
}
