// Shared plumbing of every training stage (pretrain, finetune, instruct, reward, dpo, ppo): the
// common options, the output-directory rules, RUN/config.yaml, resume from the newest checkpoint,
// loading the --init model (plus LoRA adapters) or making a fresh one (pretraining), the step-0
// measurements, and the end of a stage (final/ with or without --merge, the stage's extra files
// in final/, RUN/summary.json). No stage writes final/ or summary.json itself.
// A stage's own file does the rest: it validates its data first, calls begin_stage(), builds its
// Objective and hooks around run.model, calls train_loop(), then finish_stage().
// Not here: option parsing (src/cli/stage_options.h), data formats, loss heads, the loop itself.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lmforge/model/config.h"
#include "lmforge/model/transformer.h"
#include "lmforge/train/trainer.h"

namespace lmforge {

// Options every stage shares. Each stage sets its own defaults before the CLI binds them.
struct StageOptions {
  std::filesystem::path init, output;
  double lr = 1e-4, min_lr = -1;  // min_lr < 0: lr / 10
  int64_t warmup_steps = -1;      // < 0: 5% of the total steps
  std::string lr_decay = "cosine";
  double weight_decay = 0.0, grad_clip = 1.0, beta1 = 0.9, beta2 = 0.999;
  int batch_size = 8, grad_accum = 1;
  int64_t max_steps = 0;  // 0: `epochs` passes over the training examples
  int epochs = 1;
  int64_t eval_every = 0, save_every = 0;  // 0: only at the end
  int keep_checkpoints = 2;
  uint64_t seed = 1337;
  int threads = 0;  // 0: OpenMP's default
  bool resume = false;
  int lora_rank = 0;  // 0: full fine-tuning
  double lora_alpha = 16;
  std::string lora_targets;          // empty: attn_q,attn_v (llama) or attn_qkv (gpt2)
  bool merge = false;                // with LoRA: final/ is the merged model
  std::string resolved_config_yaml;  // saved as RUN/config.yaml
  Comm* comm = nullptr;              // data-parallel ranks (null: one process); rank 0 writes
  bool shard_optimizer = false;      // ZeRO-1 (--shard-optimizer)
  // Tokens per row for the memory check; 0: rows up to the model's context (n_ctx).
  int seq_len = 0;
  // The hint of the memory refusal for an --init model (empty: lower --batch-size, raise
  // --grad-accum, or use --lora-rank); a stage without some of those options names its own.
  std::string memory_hint;
  // MFU's denominator in GFLOP/s; 0: the machine's arithmetic peak for backend::precision()
  // (backend::machine_peak: measured once per machine and cached).
  double peak_gflops = 0;
};

// True on the rank that writes files (rank 0, or the only process).
inline bool writes_files(const StageOptions& o) {
  return !o.comm || o.comm->is_root();
}

// UsageError on out-of-range numbers, a missing --init (when `init_required`; pretraining makes a
// fresh model without one) or --output, --merge without --lora-rank.
void validate_stage_options(const StageOptions& o, bool init_required = true);

// The --init model's config.json (InputError naming the file when it is missing or malformed;
// also when the directory lacks tokenizer.json, which every stage needs).
ModelConfig read_init_config(const std::filesystem::path& init);

// Optimizer steps: --max-steps when set, else ceil(epochs · items / global batch), the global
// batch being batch_size · grad_accum · ranks.
int64_t stage_total_steps(const StageOptions& o, int64_t items_per_epoch);
LrSchedule stage_schedule(const StageOptions& o, int64_t total_steps);

// Refuses a directory that already holds a run unless --resume (UsageError with a hint).
void check_stage_output(const StageOptions& o);

// Refuses (UsageError with the estimate and the machine's memory) a stage whose model, gradients,
// optimizer state and one micro-batch of activations would not fit; reads only config.json (of
// --init, or `fresh` when given: a model not made yet).
void require_stage_memory(const std::string& name, const StageOptions& o,
                          const ModelConfig* fresh = nullptr);

// A started stage: the model to train, the trainer state (resumed or fresh) and the loop
// configuration filled from the options.
struct StageRun {
  std::string name;
  StageOptions opts;
  std::optional<Transformer> model;
  TrainerState state;
  TrainLoopConfig loop;
  std::vector<std::filesystem::path> tokenizer_files;  // copied into checkpoints and final/
  std::optional<std::filesystem::path> resumed_from;
  nlohmann::json start = nlohmann::json::object();  // step-0 metrics (RUN/start.json)
  bool finished() const { return state.step >= state.schedule.total_steps; }
};

// Call after the stage's own validation. Writes RUN/config.yaml, then sets up the model: from the
// newest checkpoint under --output when --resume finds one (with its adapters; `resume_config`
// must match the checkpoint's, see check_resume_compatible), else from --init, or, when `fresh`
// is given, a new model of that configuration initialized from --seed (pretraining from scratch);
// `prepare` may change that model before LoRA is enabled (e.g. grow the embeddings for new
// tokens). The common options (lr, batch, LoRA, ...) are added to resume_config here.
StageRun begin_stage(const std::string& name, const StageOptions& o, nlohmann::json resume_config,
                     int64_t total_steps, std::vector<std::filesystem::path> tokenizer_files,
                     const std::function<void(Transformer&)>& prepare = {},
                     const std::optional<ModelConfig>& fresh = std::nullopt);

// The step-0 measurements: on a fresh run calls `measure`, prints each value and stores them in
// RUN/start.json; on a resume reads them back from there (measuring again only when missing).
const nlohmann::json& stage_start_metrics(StageRun& run,
                                          const std::function<nlohmann::json()>& measure);

// Runs train_loop on the objective unless the run already finished (then reports the saved step,
// its loss from RUN/metrics.jsonl, and repeats the evaluation for summary.json).
TrainResult run_stage_loop(StageRun& run, Objective& objective, const TrainHooks& hooks);

// A file a stage adds to final/ next to the model (e.g. the reward model's scoring head): `write`
// is called with the file's path inside the temporary directory that becomes final/.
struct StageFile {
  std::string name;
  std::function<void(const std::filesystem::path&)> write;
};

// What a stage adds to final/ beyond the model and its tokenizer files.
struct StageFinal {
  std::vector<StageFile> files;
  // final/ is always a whole model directory: with LoRA the merged model (the adapter in
  // RUN/adapter/), as with --merge. For stages whose final/ is loaded whole (the reward model).
  bool whole_model = false;
};

// Writes final/ atomically (skipped when interrupted): the full model, or with LoRA the PEFT
// adapter (adapter_config.json + adapter_model.safetensors, base_model_name_or_path = --init) and,
// with --merge (or extra.whole_model), the merged model instead and the adapter in RUN/adapter/.
// Tokenizer files go with every model directory; extra.files go into final/. Then
// RUN/summary.json: {"stage", "steps", "val_loss", "precision", "backend", "start"} plus
// `headline` (task_metric, instruct_accuracy, ...). Rank 0 writes; the others wait at a barrier
// until it has. Returns the final directory (empty when interrupted).
std::filesystem::path finish_stage(StageRun& run, const TrainResult& result,
                                   const nlohmann::json& headline, const StageFinal& extra = {});

}  // namespace lmforge
