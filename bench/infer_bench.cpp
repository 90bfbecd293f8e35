// Inference benchmark: prompt (prefill) tokens/s, single-stream decode tokens/s against the
// memory-bandwidth bound (bytes read per decode step at the process precision: the matrices in
// bf16 or fp32, the fp32 vectors and the KV cache; over the copy bandwidth measured in this run),
// and aggregate decode tokens/s of S streams batched in one forward vs one stream. Random weights
// (speed does not depend on their values). Each figure is the best of REPEAT rounds, and the copy
// bandwidth is measured in every round between the decodes, so that a burst of load from a
// neighbour (a shared VM's memory bandwidth moves by ±20%) hits both sides of the ratio alike. Not
// a test. Usage: infer_bench [preset=small] [vocab=8192] [prompt=128] [gen=64] [streams=8]
// [repeat=3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lmforge/backend/isa.h"
#include "lmforge/core/arena.h"
#include "lmforge/infer/engine.h"
#include "lmforge/model/config.h"
#include "lmforge/model/transformer.h"

using namespace lmforge;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a, clk::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Copy bandwidth (read + write bytes per second) of a buffer far larger than the caches.
static double copy_bandwidth() {
  const size_t n = size_t(1) << 26;  // 256 MiB per buffer
  AlignedFloats a = alloc_aligned_floats(n), b = alloc_aligned_floats(n);
  std::memset(a.get(), 1, n * 4);
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    auto t0 = clk::now();
    std::memcpy(b.get(), a.get(), n * 4);
    best = std::min(best, secs(t0, clk::now()));
  }
  return 2.0 * n * 4 / best;
}

int main(int argc, char** argv) {
  const std::string preset = argc > 1 ? argv[1] : "small";
  const int V = argc > 2 ? std::atoi(argv[2]) : 8192;
  const int P = argc > 3 ? std::atoi(argv[3]) : 128;
  const int G = argc > 4 ? std::atoi(argv[4]) : 64;
  const int S = argc > 5 ? std::atoi(argv[5]) : 8;
  const int repeat = argc > 6 ? std::max(1, std::atoi(argv[6])) : 3;
  // LMFORGE_PRECISION=fp32|bf16|auto chooses the precision, as the commands' --precision does.
  if (const char* p = std::getenv("LMFORGE_PRECISION"))
    lmforge::backend::set_precision(lmforge::backend::resolve_precision(p));
  std::printf("%s\n", lmforge::backend::backend_summary().c_str());
  ModelConfig cfg = ModelConfig::preset(preset, V);
  Transformer model(cfg);
  model.init_weights(1);
  InferenceModel infer(model);
  std::vector<int32_t> prompt(P);
  for (int i = 0; i < P; ++i) prompt[i] = (i * 7919) % V;
  const int cap = std::min(cfg.n_ctx, P + G + 1);

  auto decode = [&](int streams, double* prefill_s) {
    std::vector<KVCache> caches;
    for (int s = 0; s < streams; ++s) caches.emplace_back(cfg, cap);
    std::vector<ForwardChunk> chunks;
    auto t0 = clk::now();
    for (auto& c : caches) {
      ForwardChunk ch{&c, prompt};
      infer.forward({&ch, 1});
    }
    if (prefill_s) *prefill_s = secs(t0, clk::now()) / streams;
    std::vector<int32_t> next(streams, 1);
    auto t1 = clk::now();
    for (int g = 0; g < G; ++g) {
      chunks.clear();
      for (int s = 0; s < streams; ++s) chunks.push_back({&caches[s], {&next[s], 1}});
      const float* lg = infer.forward(chunks);
      (void)lg;  // tokens are chosen, not sampled: only the forward is timed
      for (int s = 0; s < streams; ++s) next[s] = (g + s) % V;
    }
    return streams * G / secs(t1, clk::now());
  };
  double prefill_s = 1e30, one = 0, many = 0, bw = 0;
  decode(1, nullptr);  // warm-up
  for (int r = 0; r < repeat; ++r) {
    double p = 0;
    one = std::max(one, decode(1, &p));
    prefill_s = std::min(prefill_s, p);
    many = std::max(many, decode(S, nullptr));
    bw = std::max(bw, copy_bandwidth());
  }
  // Bytes a single-stream decode step reads: every matmul weight once (the tied head is the
  // embedding matrix: once), at 2 bytes in bf16 (the engine's bf16 copies) and 4 in fp32; the
  // norm weights and biases (fp32); one embedding row (and one position row); and the KV cache
  // up to the step's position (fp32), averaged over the G timed steps (positions P .. P+G-1).
  const bool bf16 = backend::precision() == backend::Precision::bf16;
  const int64_t C = cfg.n_embd, L = cfg.n_layer, Vv = cfg.vocab_size;
  const int64_t UP = cfg.features().up_factor() * (int64_t)cfg.ffn_hidden;
  const int64_t matrices =
      L * (C * cfg.qkv_dim() + (int64_t)cfg.attn_dim() * C + C * UP + (int64_t)cfg.ffn_hidden * C) +
      Vv * C;  // the head (tied or not, the decode step reads it whole)
  int64_t others = cfg.num_params() - matrices - (cfg.tie_embeddings ? 0 : Vv * C);
  if (!cfg.features().rope()) others -= (int64_t)cfg.n_ctx * C;  // wpe: one row read, added below
  const double kv = 2.0 * L * cfg.n_kv_head * cfg.head_dim * (P + (G - 1) / 2.0) * 4.0;
  const double bytes =
      matrices * (bf16 ? 2.0 : 4.0) + others * 4.0 + (cfg.features().rms() ? 1 : 2) * C * 4.0 + kv;
  const double bound = bw / bytes;
  std::printf("model %s: %.1fM params, V %d, C %d, L %d; prompt %d, generate %d; best of %d\n",
              preset.c_str(), cfg.num_params() / 1e6, V, cfg.n_embd, cfg.n_layer, P, G, repeat);
  std::printf("prefill: %.0f tok/s\n", P / prefill_s);
  std::printf(
      "decode, 1 stream: %.1f tok/s; bandwidth bound %.1f tok/s (copy %.1f GB/s, %.1f MB read "
      "per step: %.1f MB %s matrices, %.2f MB KV cache) -> %.0f%% of bound\n",
      one, bound, bw / 1e9, bytes / 1e6, matrices * (bf16 ? 2.0 : 4.0) / 1e6,
      bf16 ? "bf16" : "fp32", kv / 1e6, 100.0 * one / bound);
  std::printf("decode, %d streams batched: %.1f tok/s aggregate = %.2fx one stream\n", S, many,
              many / one);
  return 0;
}
