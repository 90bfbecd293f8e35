// Training throughput and memory of lmforge's Transformer + AdamW (bench/run_train_bench.sh runs
// it next to bench/train_bench.py, PyTorch, and prints the ratios). Trains a GPT-2-style model on
// random tokens at a matmul precision (--precision fp32|bf16|auto: backend::set_precision, which
// the model's matmuls honour once they go through the backend seam) and prints tokens/s, MFU
// against the machine's arithmetic peak for that precision (backend::machine_peak, the number
// `lmforge pretrain` divides by), the GEMM rates at 1024³ for comparison (cpu::sgemm, cblas_sgemm),
// peak RSS and the theoretical bytes of parameters, gradients, AdamW state and saved activations.
// One JSON line at the end for scripts. --check-bf16 only says whether this CPU runs bf16 natively
// (exit 0) or would emulate it (exit 3), for the script.
// Not a test (nothing here can fail on speed) and not the trainer: no data loading, schedule,
// clipping or checkpoints, only the forward/backward/update loop the trainer runs.
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "lmforge/backend/isa.h"
#include "lmforge/backend/kernels.h"
#include "lmforge/backend/peak.h"
#include "lmforge/core/error.h"
#include "lmforge/model/transformer.h"
#include "lmforge/train/optimizer.h"

using namespace lmforge;
using Clock = std::chrono::steady_clock;

namespace {

struct BenchConfig {
  const char* name;
  int V, T, L, H, C, B;
};
constexpr BenchConfig kConfigs[] = {
    {"small", 8192, 256, 6, 6, 384, 8},
    {"tiny", 4096, 128, 4, 4, 128, 16},
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // Linux reports KiB
}

// Best of `reps` 1024³ products (2·n³ FLOPs each) in GFLOP/s, after one warm-up call.
template <typename F>
double gemm_gflops(F&& gemm, int reps) {
  gemm();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    gemm();
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * 1024.0 * 1024.0 * 1024.0 / best / 1e9;
}

int usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s [--config small|tiny] [--steps N (10)] [--warmup N (2)]\n"
      "          [--precision fp32|bf16|auto (fp32)] | --check-bf16\n"
      "Trains lmforge's GPT-2 on random tokens and prints tokens/s, MFU and memory.\n"
      "--check-bf16: exit 0 when this CPU has bf16 instructions (AVX512_BF16 or AMX-BF16,\n"
      "as lmforge detects them, LMFORGE_ISA included), 3 when bf16 would be emulated.\n",
      argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = "tiny", precision = "fp32";
  int steps = 10, warmup = 2;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--check-bf16") {
      const bool native = backend::native_bf16();
      std::printf("lmforge: %s bf16 at %s\n", native ? "native" : "no native (emulated)",
                  backend::isa_name(backend::active_isa()));
      return native ? 0 : 3;
    } else if (i + 1 < argc && a == "--precision") {
      precision = argv[++i];
    } else if (i + 1 < argc && a == "--config") {
      config = argv[++i];
    } else if (i + 1 < argc && a == "--steps") {
      steps = std::atoi(argv[++i]);
    } else if (i + 1 < argc && a == "--warmup") {
      warmup = std::atoi(argv[++i]);
    } else {
      return usage(argv[0]);
    }
  }
  const BenchConfig* bc = nullptr;
  for (const auto& c : kConfigs)
    if (config == c.name) bc = &c;
  if (!bc || steps < 1 || warmup < 0) return usage(argv[0]);

  try {
    const backend::Precision prec = backend::resolve_precision(precision);
    backend::set_precision(prec);
    const double rss_start = peak_rss_mib();
    ModelConfig cfg;
    cfg.arch = "gpt2";
    cfg.vocab_size = bc->V;
    cfg.n_ctx = bc->T;
    cfg.n_layer = bc->L;
    cfg.n_head = cfg.n_kv_head = bc->H;
    cfg.n_embd = bc->C;
    cfg.head_dim = bc->C / bc->H;
    cfg.ffn_hidden = 4 * bc->C;
    cfg.tie_embeddings = true;
    cfg.attn_bias = cfg.mlp_bias = true;
    Transformer model(cfg);
    model.init_weights(0);

    std::vector<ParamSegment> segs;
    for (const auto& e : model.params().entries())
      segs.push_back({e.name, e.shape, e.offset, e.numel, model.is_decayed(e.name)});
    AdamW opt(AdamWConfig{}, segs, model.params().numel());

    const int B = bc->B, T = bc->T;
    std::mt19937 rng(1);
    std::vector<int32_t> ids(B * T), targets(B * T);
    for (auto& x : ids) x = static_cast<int32_t>(rng() % bc->V);
    for (auto& x : targets) x = static_cast<int32_t>(rng() % bc->V);

    std::vector<double> times;
    float loss = 0;
    for (int s = 0; s < warmup + steps; ++s) {
      auto t0 = Clock::now();
      model.zero_grad();
      loss = model.forward(ids.data(), targets.data(), B, T);
      model.backward();
      opt.update(model.params().data(), model.grads().data(), 3e-4f);
      if (s >= warmup) times.push_back(seconds_since(t0));
    }
    std::sort(times.begin(), times.end());
    const double step_s = times[times.size() / 2];
    const double rss_train = peak_rss_mib();

    // GEMM ceilings, measured after training so their buffers do not count in the peak RSS above.
    const int n = 1024;
    std::vector<float> A(n * n), Bm(n * n), Cm(n * n);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& x : A) x = nd(rng);
    for (auto& x : Bm) x = nd(rng);
    const double own = gemm_gflops(
        [&] {
          cpu::sgemm(false, false, n, n, n, 1.0f, A.data(), n, Bm.data(), n, 0.0f, Cm.data(), n);
        },
        5);
    const double blas = gemm_gflops(
        [&] {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A.data(), n,
                      Bm.data(), n, 0.0f, Cm.data(), n);
        },
        5);

    const size_t N = model.params().numel();
    const double params_mib = N * 4.0 / 1048576.0;
    const double act_mib = model.activation_bytes(B, T) / 1048576.0;
    // parameters + gradients + AdamW m and v (4 x N floats) + saved activations.
    const double theory_mib = 4 * params_mib + act_mib;
    const double tps = B * T / step_s;
    const double fpt = model.flops_per_token(T);
    const double gflops = tps * fpt / 1e9;
    const backend::Peak peak = backend::machine_peak(prec);
    const double mfu = gflops * 1e9 / peak.flops;
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    const std::string summary = backend::backend_summary();

    std::printf("lmforge train_bench config=%s (V=%d T=%d L=%d H=%d C=%d B=%d), %zu params\n",
                bc->name, bc->V, T, bc->L, bc->H, bc->C, B, N);
    std::printf("  precision %s; %s\n", backend::precision_name(prec), summary.c_str());
    std::printf(
        "  step %.1f ms (median of %d), %.1f tokens/s, %.2f GFLOP/s of model FLOPs "
        "(%.3g FLOPs/token), last loss %.4f\n",
        step_s * 1e3, steps, tps, gflops, fpt, loss);
    std::printf(
        "  MFU %.1f%% of the %s; fp32 GEMM 1024^3: cpu::sgemm %.1f GFLOP/s (%.0f%% of it), "
        "cblas_sgemm %.1f GFLOP/s (OPENBLAS_CORETYPE=%s)\n",
        100.0 * mfu, peak.describe().c_str(), own, 100.0 * own * 1e9 / peak.flops, blas,
        coretype ? coretype : "(unset)");
    std::printf(
        "  memory: peak RSS %.1f MiB (%.1f MiB at start); theory %.1f MiB = 4 x %.1f "
        "(params, grads, m, v) + %.1f activations; ratio %.2f\n",
        rss_train, rss_start, theory_mib, params_mib, act_mib, rss_train / theory_mib);
    std::printf(
        "{\"impl\": \"lmforge\", \"config\": \"%s\", \"precision\": \"%s\", \"backend\": \"%s\", "
        "\"tokens_per_s\": %.1f, \"step_ms\": %.2f, "
        "\"n_params\": %zu, \"flops_per_token\": %.0f, \"gflops\": %.2f, \"sgemm_gflops\": %.1f, "
        "\"cblas_gflops\": %.1f, \"peak_gflops\": %.1f, \"peak_kernel\": \"%s\", \"mfu\": %.4f, "
        "\"peak_rss_mib\": %.1f, \"start_rss_mib\": %.1f, "
        "\"theory_mib\": %.1f, \"activation_mib\": %.1f, \"last_loss\": %.4f}\n",
        bc->name, backend::precision_name(prec), summary.c_str(), tps, step_s * 1e3, N, fpt, gflops,
        own, blas, peak.flops / 1e9, backend::peak_kernel_name(peak.kernel), mfu, rss_train,
        rss_start, theory_mib, act_mib, loss);
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "train_bench: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_bench: %s\n", e.what());
    return 1;
  }
}
