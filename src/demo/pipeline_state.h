// Internal pieces of the pipeline runner (src/demo/pipeline_runner.cpp, pipeline_probes.cpp):
// a child-process runner for probes and stages, the probe measurements and the "what changed"
// table. Not a public API.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lmforge/demo/pipeline.h"

namespace lmforge::pipeline_detail {

using Json = nlohmann::ordered_json;

class ProbeRunner {
 public:
  ProbeRunner(std::filesystem::path binary, std::filesystem::path dir);
  // Runs `lmforge ARGS` with stdout captured and stderr appended to DIR/logs/probes.log; the
  // last stdout line parsed as JSON, or nullopt (with a notice) when the command fails.
  std::optional<Json> json_of(const std::vector<std::string>& args) const;
  // `lmforge COMMAND --help` exits 0.
  bool available(const std::vector<std::string>& command) const;
  // Its --help text ("" when unavailable).
  std::string help_text(const std::vector<std::string>& command) const;
  // Runs a stage with stdout/stderr inherited; its exit code (128+signal when killed).
  int run_stage(const std::vector<std::string>& args) const;
  // Runs with stdout and stderr appended to `log`; the exit code.
  int run_logged(const std::vector<std::string>& args, const std::filesystem::path& log) const;

 private:
  std::filesystem::path binary_, dir_;
};

// The probes object of state.json for a finished stage (see layout: next_word, general/domain
// val loss, summary.json metrics, held-out accuracy) plus its samples, as {"probes", "samples"}.
// With a `baseline` (a chat stage, see alignment_baseline) also "ranker_win_rate": the simulated
// ranker's judgement of this stage's held-out answers against the baseline model's
// ({"versus", "prompts", "differ", "wins", "losses", "ties", "win_rate"}).
Json measure_probes(const PipelineStage& stage, const PipelineProbes& probes,
                    const ProbeRunner& runner, const PipelineStage* baseline = nullptr);

// The model a chat stage started from, when an earlier chat stage made it: the stage whose
// probed model is stage i's --init (DPO and PPO from the instruction-tuned model). nullptr
// otherwise (no --init, or a model no earlier chat stage wrote).
const PipelineStage* alignment_baseline(const Pipeline& p, size_t i);

// Mean tokens_per_s of a metrics.jsonl (null when none).
Json mean_tokens_per_s(const std::filesystem::path& metrics);

// The table of probe values, previous stage vs this one, as printed after each stage.
std::string changes_table(const std::string& prev_name, const Json& prev, const std::string& name,
                          const Json& cur);

}  // namespace lmforge::pipeline_detail
