// The one training loop every stage uses. A stage is an Objective: its data, its loss head
// (forward + backward of one micro-batch) and the parameters that train (the whole model, LoRA
// adapters, extra heads). The loop does the rest: gradient accumulation, global-norm clipping
// over every trainable group, AdamW with a schedule, periodic evaluation, metrics.jsonl, progress,
// checkpoints every N steps and at the end, and a cooperative stop on SIGINT/SIGTERM (finish the
// current step, save, return).
// Determinism: a step depends only on (weights, optimizer state, objective position, step), all
// of which a checkpoint restores, so a resumed run repeats the uninterrupted one bit for bit (with
// the same thread count: the kernels' reductions are deterministic per thread count).
// Data parallelism (N ranks, dist/comm.h): the global batch is batch x grad_accum x N. Each
// objective's position counts items of the global batch, and rank r reads its own slice of every
// micro-batch (rows r·B .. r·B+B-1 of the global micro-batch), so N ranks x B see exactly the rows
// 1 rank x N·B sees, and the position (hence a checkpoint) is the same on every rank. Gradients
// are summed with all-reduce in buckets and divided by N (micro_step weights its loss so that the
// average over ranks is the global micro-batch's loss, see LanguageModelObjective); the loss,
// stage metrics are averaged over ranks in one all-reduce per step, and a Ctrl-C on any rank
// stops every rank after the same step (one more scalar all-reduce).
// With shard_optimizer (ZeRO-1) gradients are reduce-scattered, each rank clips with the global
// norm and updates its range of the AdamW state and parameters, then the parameters are
// all-gathered. Rank 0 alone writes metrics.jsonl, the progress bar, samples and checkpoints
// (the sharded AdamW state is gathered for it, so a checkpoint has the single-process layout).
// Not here: option parsing and setup (pretrain.h and each stage), the collectives (dist/).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lmforge/dist/comm.h"
#include "lmforge/model/transformer.h"
#include "lmforge/train/checkpoint.h"
#include "lmforge/train/metrics.h"
#include "lmforge/train/optimizer.h"

namespace lmforge {

// Training micro-batches of (B,T) token rows whose entire state is one integer position.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills ids and targets, each (B,T); targets < 0 are masked out of the loss.
  virtual void next(int32_t* ids, int32_t* targets) = 0;
  // Positions (B,T) of the last next() for packed rows (each token's index inside its own
  // example; attention never crosses a position reset, see kernels.h), or null for plain causal
  // rows. Valid until the following next().
  virtual const int32_t* positions() const { return nullptr; }
  virtual int64_t position() const = 0;
  virtual void set_position(int64_t position) = 0;
};

// One group of trainable tensors: flat parameter and gradient arrays with the same layout and
// the named segments AdamW walks. Each group gets its own AdamW state; checkpoints store its
// moments as "exp_avg.<prefix><name>" / "exp_avg_sq.<prefix><name>".
struct TrainableGroup {
  std::string prefix;  // "" for the model's own tensors; e.g. "v_head." for a value head
  float* params = nullptr;
  float* grads = nullptr;
  size_t numel = 0;
  std::vector<ParamSegment> segments;
};

// A training stage's objective (one loop for every stage: data source + loss head + which
// parameters train; CONTRIBUTING.md, "Add a training stage").
class Objective {
 public:
  virtual ~Objective() = default;
  // The model a checkpoint saves (its save() also writes any LoRA adapter it carries).
  virtual Transformer& model() = 0;
  // The tensors that train; the same pointers on every call.
  virtual std::vector<TrainableGroup> trainable() = 0;
  // Called once before the micro-batches of `step` (1-based): e.g. PPO collects rollouts here.
  virtual void begin_step(int64_t /*step*/) {}
  // One micro-batch: forward, loss, backward with grads += d(loss · scale)/dθ for every trainable
  // group (the loop zeroes them once per step). Returns the micro-batch loss. Stage metrics go
  // into `extra` (the loop averages them over the step's micro-batches into metrics.jsonl).
  virtual double micro_step(float scale, std::map<std::string, double>& extra) = 0;
  // Tokens one micro-batch trains on (tokens_per_s, tokens_seen).
  virtual int64_t tokens_per_micro() const = 0;
  // Training FLOPs per micro-batch for MFU; 0 reports mfu 0.
  virtual double flops_per_micro() const { return 0; }
  // Everything the objective needs to continue exactly after a resume, as one integer (the data
  // position); objectives with more state save it in save_extra().
  virtual int64_t position() const = 0;
  virtual void set_position(int64_t position) = 0;
  // Extra files in a checkpoint directory (value heads, rollout state); load_extra reads them back
  // on resume.
  virtual void save_extra(const std::filesystem::path& /*dir*/) const {}
  virtual void load_extra(const std::filesystem::path& /*dir*/) {}

  // The ranks of a data-parallel job; the loop sets it before the first step (default: one
  // process). Objectives read their slice of each global micro-batch with items_before/after.
  void set_comm(Comm& comm) { comm_ = &comm; }
  Comm& comm() const;

 protected:
  // With `per_rank` items per rank in a micro-batch: the items of ranks before this one (skip
  // them before reading this rank's) and after it (skip them after), so the position advances by
  // the whole global micro-batch on every rank.
  int64_t items_before(int64_t per_rank) const { return comm().rank() * per_rank; }
  int64_t items_after(int64_t per_rank) const {
    return (comm().size() - 1 - comm().rank()) * per_rank;
  }

 private:
  Comm* comm_ = nullptr;
};

// Masked next-token cross-entropy over a BatchSource (pretraining, continued pretraining, SFT,
// instruction tuning): every model parameter trains, or only the LoRA adapters when the model has
// them (Transformer::trainable_group()).
class LanguageModelObjective : public Objective {
 public:
  LanguageModelObjective(Transformer& model, BatchSource& data, int batch_size, int seq_len);
  Transformer& model() override { return model_; }
  std::vector<TrainableGroup> trainable() override;
  double micro_step(float scale, std::map<std::string, double>& extra) override;
  int64_t tokens_per_micro() const override { return int64_t(B_) * T_; }
  double flops_per_micro() const override;
  int64_t position() const override { return data_.position(); }
  void set_position(int64_t p) override { data_.set_position(p); }

 private:
  Transformer& model_;
  BatchSource& data_;
  int B_, T_;
  std::vector<int32_t> ids_, targets_, pos_, skip_ids_, skip_targets_;
};

struct TrainLoopConfig {
  int grad_accum = 1;             // micro-batches per optimizer step
  double grad_clip = 1.0;         // <= 0 disables clipping
  AdamWConfig adamw;              // the same settings for every trainable group
  int64_t eval_every = 0;         // 0: evaluate only at the end
  int64_t save_every = 0;         // 0: checkpoint only at the end (and on interrupt)
  int keep_checkpoints = 2;       // newest checkpoints kept; 0 keeps all
  int64_t sample_every = 0;       // 0: never print samples
  double peak_flops = 0;          // MFU denominator (backend::machine_peak); 0: mfu 0
  std::filesystem::path run_dir;  // holds checkpoints/ and metrics.jsonl
  std::vector<std::filesystem::path> tokenizer_files;  // copied into every checkpoint
  std::optional<std::filesystem::path> resume_from;    // a checkpoint: optimizer state + extras
  std::string label = "train";                         // progress label
  Comm* comm = nullptr;          // the job's ranks (dist/comm.h); null: one process
  bool shard_optimizer = false;  // ZeRO-1: each rank keeps 1/N of the AdamW state
};

struct TrainHooks {
  // Validation: the main loss (metrics "val_loss") plus any further named values (e.g.
  // "general_val_loss") written next to it. Null: no evaluation.
  std::function<std::map<std::string, double>()> eval;
  std::function<std::string()> sample;              // a short text sample; null: none
  std::function<void(const StepMetrics&)> on_step;  // after each step's metrics (tests)
  // Called on rank 0 right after each evaluation with the step and its values: true ends
  // training after this step, saved as the last one (its checkpoint's schedule ends there, so a
  // resume finds the run finished). Early stopping on a held-out measure (early_stop.h).
  std::function<bool(int64_t step, const std::map<std::string, double>& eval)> stop_after_eval;
};

struct TrainResult {
  int64_t steps_done = 0;  // state.step at return
  bool interrupted = false;
  bool stopped_early = false;  // stop_after_eval ended the run before the planned last step
  double last_loss = 0;
  std::optional<double> last_val_loss;
  std::map<std::string, double> last_eval;  // the last eval hook's values
  std::filesystem::path last_checkpoint;
};

// Runs from state.step + 1 to state.schedule.total_steps. `state` (step, data position, tokens,
// elapsed) is updated in place; metrics lines after state.step are replaced. Throws RuntimeError
// on a non-finite loss or gradient norm, leaving the last good checkpoint in place.
TrainResult train_loop(Objective& objective, TrainerState& state, const TrainLoopConfig& cfg,
                       const TrainHooks& hooks);

// Parameter segments of a model's whole arena for AdamW (decay per Transformer::is_decayed).
std::vector<ParamSegment> param_segments(const Transformer& model);

// Global L2 norm over every group's gradient (accumulated in double); when max_norm > 0 and the
// norm exceeds it, scales every group to norm max_norm. Returns the norm before clipping.
double clip_grad_norm(const std::vector<TrainableGroup>& groups, double max_norm);

// Threads per rank when --threads is 0: the machine's cores shared by the ranks on it.
int default_threads_per_rank(const Comm& comm);

}  // namespace lmforge
