// Time of one AdamW update (the trainer's per-tensor calls of cpu::adamw_update) over the
// parameters of the "tiny" and "small" GPT-2 configs of train_bench, median of N repetitions,
// wall time. Written to measure the cost of forking an OpenMP team per small tensor (norm
// weights, biases) under each OMP_WAIT_POLICY (docs/PERF_NOTES.md). Not a test.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "lmforge/model/transformer.h"
#include "lmforge/train/optimizer.h"

using namespace lmforge;

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 50;
  struct Cfg {
    const char* name;
    int V, T, L, H, C;
  };
  for (Cfg c : {Cfg{"tiny", 4096, 128, 4, 4, 128}, Cfg{"small", 8192, 256, 6, 6, 384}}) {
    ModelConfig cfg;
    cfg.arch = "gpt2";
    cfg.vocab_size = c.V;
    cfg.n_ctx = c.T;
    cfg.n_layer = c.L;
    cfg.n_head = cfg.n_kv_head = c.H;
    cfg.n_embd = c.C;
    cfg.head_dim = c.C / c.H;
    cfg.ffn_hidden = 4 * c.C;
    cfg.tie_embeddings = true;
    cfg.attn_bias = cfg.mlp_bias = true;
    Transformer model(cfg);
    model.init_weights(0);
    std::vector<ParamSegment> segs;
    for (const auto& e : model.params().entries())
      segs.push_back({e.name, e.shape, e.offset, e.numel, model.is_decayed(e.name)});
    AdamW opt(AdamWConfig{}, segs, model.params().numel());
    std::fill(model.grads().data(), model.grads().data() + model.params().numel(), 1e-3f);
    std::vector<double> t;
    for (int r = 0; r < reps + 2; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      opt.update(model.params().data(), model.grads().data(), 1e-4f);
      if (r >= 2)
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    std::printf("%-5s %zu tensors, %zu params: AdamW update median %.3f ms, p90 %.3f ms\n", c.name,
                segs.size(), model.params().numel(), 1e3 * t[t.size() / 2],
                1e3 * t[t.size() * 9 / 10]);
  }
  return 0;
}
