// Pretraining (and continued pretraining with --init) as a library call: resolves the model
// configuration from a preset and overrides (or an --init model), validates every input before
// anything is written (data shards, tokenizer hash vs the data manifest, --seq-len vs context,
// output directory), then runs the one trainer loop over the prepared data's train split with
// validation on its val split, and writes RUN/final/ (a model directory with tokenizer files).
// Continued pretraining (--init) may mix general data back in: --replay DIR --replay-ratio r makes
// row k of the run a general window exactly when floor((k+1)·r) > floor(k·r) (so a fraction r of
// rows, spread evenly, and the mix depends only on the row count: resume stays exact). With
// --replay or --general-val every evaluation reports domain_val_loss (= val_loss) and
// general_val_loss, also at step 0 (printed, kept in RUN/start.json and RUN/summary.json "start").
// Not here: option parsing (src/cli/pretrain.cpp), other stages' data (finetune, instruct, ...).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "lmforge/model/config.h"
#include "lmforge/train/trainer.h"

namespace lmforge {

struct PretrainOptions {
  std::filesystem::path data_dir, output_dir;
  std::filesystem::path init_model;  // empty: a fresh model from preset + overrides
  // Replay (continued pretraining): a prepared data directory with the same tokenizer, mixed into
  // training at replay_ratio of the rows; its val split is the general validation set unless
  // general_val_dir names another prepared directory.
  std::filesystem::path replay_dir, general_val_dir;
  double replay_ratio = 0.25;
  std::string arch = "gpt2";  // a family of model/arch.h: gpt2 | llama | qwen3
  std::string preset;         // empty: "tiny" for gpt2, "llama-tiny" for llama
  // Architecture overrides; 0 keeps the preset's value.
  int n_layer = 0, n_head = 0, n_kv_head = 0, n_embd = 0, ffn_hidden = 0, n_ctx = 0;
  int seq_len = 0;  // 0: the model's context
  int batch_size = 8, grad_accum = 1;
  double lr = 1e-3, min_lr = -1;  // min_lr < 0: lr / 10
  int64_t warmup_steps = -1;      // < 0: 5% of the total steps
  std::string lr_decay = "cosine";
  double weight_decay = 0.1, grad_clip = 1.0, beta1 = 0.9, beta2 = 0.95;
  int64_t max_steps = 0, max_tokens = 0;  // both 0: one epoch of the train split
  int64_t eval_every = 100, eval_tokens = 65536, save_every = 500, sample_every = 0;
  int keep_checkpoints = 2;
  uint64_t seed = 1337;
  int threads = 0;  // 0: OpenMP's default
  bool resume = false;
  // MFU's denominator in GFLOP/s; 0: the machine's arithmetic peak for backend::precision()
  // (backend::machine_peak: measured once per machine and cached).
  double peak_gflops = 0;
  std::string resolved_config_yaml;  // saved as RUN/config.yaml
  Comm* comm = nullptr;              // data-parallel ranks (null: one process); rank 0 writes
  bool shard_optimizer = false;      // ZeRO-1 (--shard-optimizer)
};

struct PretrainResult {
  TrainResult train;
  ModelConfig model;
  std::filesystem::path final_dir;  // empty when interrupted
  int64_t total_steps = 0;
  double peak_gflops = 0;
};

PretrainResult run_pretrain(const PretrainOptions& opts, const TrainHooks& test_hooks = {});

}  // namespace lmforge
