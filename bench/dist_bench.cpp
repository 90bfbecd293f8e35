// Data-parallel costs, run under mpirun (bench/run_dist_bench.sh runs both sides and prints the
// ratio): (1) the all-reduce time of a gradient of n floats through the communicator seam, in the
// trainer's buckets, for n from 4 KiB to 64 MiB, with the "bus bandwidth" 2(N-1)/N·bytes/time
// that a ring all-reduce moves per rank; (2) the training step of a GPT-2 "small" model (random
// tokens, B rows of T=256 per rank) split into compute (forward + backward) and communication
// (gradient all-reduce or ZeRO-1 reduce-scatter + all-gather) plus the AdamW update. One JSON
// line at the end for scripts. Not a test: nothing here fails on speed.
// usage: [mpirun -np N] dist_bench [--batch B] [--steps S] [--threads K] [--shard] [--no-model]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "lmforge/dist/comm.h"
#include "lmforge/model/transformer.h"
#include "lmforge/train/data_parallel.h"
#include "lmforge/train/trainer.h"

using namespace lmforge;
using Clock = std::chrono::steady_clock;

namespace {
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  int batch = 4, steps = 5, threads = 1;
  bool shard = false, model = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--batch" && i + 1 < argc)
      batch = std::atoi(argv[++i]);
    else if (a == "--steps" && i + 1 < argc)
      steps = std::atoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--shard")
      shard = true;
    else if (a == "--no-model")
      model = false;
  }
  const LaunchInfo li = detect_launch();
  std::unique_ptr<Comm> comm =
      li.launched && li.size > 1 ? make_mpi_comm(&argc, &argv) : make_single_process_comm();
  const int N = comm->size();
  const bool root = comm->is_root();
  omp_set_num_threads(threads);
  if (root)
    std::printf("dist_bench: %d rank(s) (%s), %d thread(s) each\n", N, comm->name().c_str(),
                threads);

  // (1) all-reduce cost vs size.
  if (root) std::printf("%12s %12s %12s %14s\n", "floats", "MiB", "ms", "bus GB/s");
  for (size_t n = 1024; n <= (size_t{1} << 24); n *= 4) {
    std::vector<float> g(n, 1.0f);
    const int reps = n <= (1u << 18) ? 50 : 5;
    comm->barrier();
    for (size_t at = 0; at < n; at += kGradBucketFloats)  // warm the transport
      comm->all_reduce(g.data() + at, std::min(kGradBucketFloats, n - at));
    comm->barrier();
    auto t0 = Clock::now();
    for (int r = 0; r < reps; ++r)
      for (size_t at = 0; at < n; at += kGradBucketFloats)
        comm->all_reduce(g.data() + at, std::min(kGradBucketFloats, n - at));
    double t = since(t0) / reps;
    double worst[1] = {t};
    comm->all_reduce(worst, 1, ReduceOp::kMax);
    t = worst[0];
    const double bytes = double(n) * 4;
    if (root)
      std::printf("%12zu %12.2f %12.3f %14.2f\n", n, bytes / (1 << 20), t * 1e3,
                  N > 1 ? 2.0 * (N - 1) / N * bytes / t / 1e9 : 0.0);
  }
  if (!model) return 0;

  // (2) the "small" training step, B rows per rank.
  ModelConfig mc = ModelConfig::preset("small", 8192);
  const int T = 256;
  Transformer m(mc);
  m.init_weights(1);
  std::mt19937 rng(7 + comm->rank());
  std::vector<int32_t> ids(size_t(batch) * T), tg(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = int32_t(rng() % 8192), tg[i] = int32_t(rng() % 8192);
  ParamArena& p = m.trainable_params();
  ParamArena& gr = m.trainable_grads();
  std::vector<TrainableGroup> groups = {{"", p.data(), gr.data(), p.numel(), param_segments(m)}};
  AdamWConfig ac;
  DataParallelOptimizer opt(groups, ac, *comm, shard);
  double t_compute = 0, t_sync = 0, t_step = 0;
  for (int s = 0; s <= steps; ++s) {  // step 0 warms up and is not counted
    comm->barrier();
    auto t0 = Clock::now();
    gr.zero();
    m.forward(ids.data(), tg.data(), batch, T, nullptr);
    m.backward(1.0f);
    const double c = since(t0);
    auto t1 = Clock::now();
    opt.reduce_and_clip(1.0);
    opt.update(1e-4f);
    const double y = since(t1), all = since(t0);
    if (s > 0) t_compute += c, t_sync += y, t_step += all;
  }
  double v[3] = {t_compute / steps, t_sync / steps, t_step / steps};
  comm->all_reduce(v, 3, ReduceOp::kMax);
  const double tok_s = double(batch) * T * N / v[2];
  if (root) {
    std::printf(
        "small step, %d rank(s) x %d thread(s) x batch %d (T=%d): compute %.1f ms, "
        "all-reduce + update %.1f ms, step %.1f ms, %.0f tokens/s; gradient %.1f MiB\n",
        N, threads, batch, T, v[0] * 1e3, v[1] * 1e3, v[2] * 1e3, tok_s,
        double(p.numel()) * 4 / (1 << 20));
    std::printf(
        "{\"ranks\": %d, \"threads\": %d, \"batch\": %d, \"shard\": %s, \"compute_ms\": %.2f, "
        "\"sync_ms\": %.2f, \"step_ms\": %.2f, \"tokens_per_s\": %.1f, \"params\": %zu}\n",
        N, threads, batch, shard ? "true" : "false", v[0] * 1e3, v[1] * 1e3, v[2] * 1e3, tok_s,
        p.numel());
  }
  return 0;
}
