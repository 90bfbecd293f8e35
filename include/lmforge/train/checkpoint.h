// Training checkpoints: RUN/checkpoints/step-N/ is a complete model directory (config.json,
// model.safetensors, generation_config.json, tokenizer files) plus
//   optimizer.safetensors  AdamW moments per parameter: "exp_avg.<name>", "exp_avg_sq.<name>"
//                          (f32, the parameter's arena shape), metadata {"step": t}
//   trainer_state.json     step, tokens seen, data position, seed, elapsed seconds, the schedule,
//                          the number of ranks that wrote it ("ranks", absent: 1),
//                          "config": the settings that must not change across a resume, and
//                          "files": every file of the checkpoint (written last).
// A data-parallel job's checkpoint is written by rank 0 alone: every rank holds the same weights
// and the same global data position, and a sharded (ZeRO-1) AdamW state is gathered first, so the
// layout is the single-process one.
// Each step-N directory is built with write_dir_atomic, so a directory under its final name is
// always complete; a kill during a save leaves only a "step-N.tmp-PID" sibling that is ignored
// (and removed by the next save). Pruning renames step-N to "step-N.trash-PID" before deleting
// it, so a kill during a prune never leaves a partial step-N; one left by an older lmforge (a
// file of its "files" list missing) is never resumed from and is removed by the next prune.
// Not here: what the trainer does with the state (trainer.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "lmforge/model/transformer.h"
#include "lmforge/train/optimizer.h"
#include "lmforge/train/schedule.h"

namespace lmforge {

inline constexpr const char* kTrainerStateFormat = "lmforge-trainer-state";
inline constexpr int kTrainerStateVersion = 1;

struct TrainerState {
  int64_t step = 0;           // optimizer updates done
  int64_t tokens_seen = 0;    // training tokens consumed (B·T·grad_accum per step)
  int64_t data_position = 0;  // DataLoader::position(): windows consumed
  uint64_t seed = 0;
  double elapsed_s = 0;  // training wall time so far (excludes time between runs)
  int ranks = 1;         // data-parallel ranks of the job that wrote it
  LrSchedule schedule;
  nlohmann::json config;  // resume-compatibility settings (compared key by key)
};

nlohmann::json trainer_state_to_json(const TrainerState& s);
// InputError naming the file and key on a malformed state.
TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& file);

// One optimizer and the name prefix its moments are saved under ("" for the model's tensors).
struct OptimizerGroup {
  std::string prefix;
  const AdamW* opt = nullptr;
};

// Writes `dir` (e.g. RUN/checkpoints/step-N) atomically: the model (and its LoRA adapter files
// when it has adapters), the moments of every optimizer group, the trainer state, the tokenizer
// files, and whatever `extra` writes into the temporary directory.
void save_checkpoint(const std::filesystem::path& dir, const Transformer& model,
                     const std::vector<OptimizerGroup>& opts, const TrainerState& state,
                     const std::vector<std::filesystem::path>& tokenizer_files,
                     const std::function<void(const std::filesystem::path&)>& extra = {});

// Restores AdamW's moments and step count from dir/optimizer.safetensors (tensors named
// "exp_avg.<prefix><name>"); InputError when a tensor is missing or misshaped.
void load_optimizer_state(const std::filesystem::path& dir, AdamW& opt,
                          const std::string& prefix = "");
TrainerState read_trainer_state(const std::filesystem::path& dir);

// Newest complete RUN/checkpoints/step-N (the highest N holding every file its
// trainer_state.json lists; model, optimizer and state for checkpoints without the list), if any.
std::optional<std::filesystem::path> find_latest_checkpoint(const std::filesystem::path& run_dir);
// Complete checkpoint directories sorted by step, oldest first.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir);
// Removes all but the newest `keep` checkpoints (keep <= 0 keeps all), stale temp and trash dirs
// and incomplete step-N dirs; crash-safe (see above).
void prune_checkpoints(const std::filesystem::path& run_dir, int keep);

// UsageError when a checkpoint written by `saved` ranks is resumed by a job of `now` ranks: the
// global batch (batch x grad-accum x ranks) and so the data position would change meaning.
void check_resume_ranks(int saved, int now, const std::filesystem::path& checkpoint);

// Compares a checkpoint's config with the current one; UsageError naming the first key that
// differs (so a resume never silently changes the run).
void check_resume_compatible(const nlohmann::json& saved, const nlohmann::json& now,
                             const std::filesystem::path& checkpoint);

}  // namespace lmforge
