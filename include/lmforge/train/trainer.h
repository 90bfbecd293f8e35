// The one training loop every stage uses: micro-batches from a BatchSource, forward + backward
// with gradient accumulation, global-norm clipping, AdamW with a schedule, periodic evaluation,
// metrics.jsonl, progress, checkpoints every N steps and at the end, and a cooperative stop on
// SIGINT/SIGTERM (finish the current step, save, return). A stage plugs in its data (BatchSource)
// and its evaluation/sample callbacks; the loss is the model's masked next-token cross-entropy.
// Determinism: a step depends only on (weights, optimizer state, source position, step), all of
// which a checkpoint restores, so a resumed run repeats the uninterrupted one bit for bit (with
// the same thread count: the kernels' reductions are deterministic per thread count).
// Not here: option parsing and setup (pretrain.h), multi-rank all-reduce (dist/, next).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lmforge/model/transformer.h"
#include "lmforge/train/checkpoint.h"
#include "lmforge/train/metrics.h"
#include "lmforge/train/optimizer.h"

namespace lmforge {

// Training micro-batches whose entire state is one integer position.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills ids and targets, each (B,T) as given in TrainLoopConfig; targets < 0 are masked.
  virtual void next(int32_t* ids, int32_t* targets) = 0;
  virtual int64_t position() const = 0;
  virtual void set_position(int64_t position) = 0;
};

struct TrainLoopConfig {
  int batch_size = 8;             // B, rows per micro-batch
  int seq_len = 64;               // T
  int grad_accum = 1;             // micro-batches per optimizer step
  double grad_clip = 1.0;         // <= 0 disables clipping
  int64_t eval_every = 0;         // 0: evaluate only at the end
  int64_t save_every = 0;         // 0: checkpoint only at the end (and on interrupt)
  int keep_checkpoints = 2;       // newest checkpoints kept; 0 keeps all
  int64_t sample_every = 0;       // 0: never print samples
  double peak_flops = 0;          // FLOP/s ceiling for MFU; 0 reports mfu 0
  std::filesystem::path run_dir;  // holds checkpoints/ and metrics.jsonl
  std::vector<std::filesystem::path> tokenizer_files;  // copied into every checkpoint
  std::string label = "train";                         // progress label
};

struct TrainHooks {
  std::function<double()> eval;                     // validation loss; null: no evaluation
  std::function<std::string()> sample;              // a short text sample; null: none
  std::function<void(const StepMetrics&)> on_step;  // after each step's metrics (tests)
};

struct TrainResult {
  int64_t steps_done = 0;  // state.step at return
  bool interrupted = false;
  double last_loss = 0;
  std::optional<double> last_val_loss;
  std::filesystem::path last_checkpoint;
};

// Runs from state.step + 1 to state.schedule.total_steps. `state` (step, data position, tokens,
// elapsed) is updated in place; metrics lines after state.step are replaced. Throws RuntimeError
// on a non-finite loss or gradient norm, leaving the last good checkpoint in place.
TrainResult train_loop(Transformer& model, AdamW& opt, BatchSource& data, TrainerState& state,
                       const TrainLoopConfig& cfg, const TrainHooks& hooks);

// Parameter segments of a model for AdamW (decay per Transformer::is_decayed).
std::vector<ParamSegment> param_segments(const Transformer& model);

}  // namespace lmforge
