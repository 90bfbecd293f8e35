// Pipelines: an ordered list of stages, each one `lmforge` subcommand with its options, read from
// YAML and run as child processes of the same binary (`lmforge run PIPELINE.yaml --output DIR`;
// `lmforge demo` runs a built-in one). After each stage the runner probes the stage's model the
// same way every time (next-word prediction, validation losses, the stage's summary.json, sample
// answers), prints what changed since the previous stage, and rewrites DIR/state.json (the
// contract the report card reads). A stage whose output is complete is skipped, so an
// interrupted pipeline resumes where it stopped; training commands get --resume when their output
// holds checkpoints.
//
// Pipeline YAML:
//   title: "My model"
//   simulated_ranker: "rule text"          (optional; copied into state.json)
//   probes:                                 (all optional)
//     prompt: "The cat sat on the"          next-word probe, `top` most likely tokens (5)
//     general_val: PATH                     prepared data dir (its val split) or a text file
//     domain_val: PATH
//     eval_tokens: 16384                    tokens scored per validation probe (0: all)
//     samples: [PROMPT, ...]                plain continuations, for stages without `chat: true`
//     chat_samples: [PROMPT, ...]           chat answers, for stages with `chat: true`
//     heldout: FILE.jsonl                   chat stages: held-out instruction accuracy (contains
//     heldout_max: 60                       the reference answer) when summary.json lacks it;
//                                           a chat stage whose --init is an earlier chat stage's
//                                           model also gets the simulated ranker's win rate
//                                           against that model (demo/win_rate.h)
//     tasks:                                benchmark tasks scored by `lmforge eval --task` on
//       - PATH                              every probed model (demo/task_probes.h): a path, or
//       - {path: P, name: N, num_fewshot: K, limit: N}
//   stages:
//     - name: pretrain                      id: DIR/state.json's stage name
//       title: Pretraining
//       what: "one or two sentences"
//       command: pretrain                   a subcommand, possibly two words ("tokenizer train")
//       options: {data: PATH, output: PATH, max-steps: 100, resume: false, input: [A, B]}
//       probes: model | summary | none      (default: model for training commands, else none)
//       chat: false                         whether the model answers chat prompts
//       model: PATH                         the model to probe (default OUTPUT/final)
//       done_when: PATH                     file whose presence means done (default per command)
// ${NAME} in any string is replaced by a variable (DIR = the output directory, DATA, and any
// given with --var NAME=VALUE); an unknown ${NAME} is an error naming the file and line.
// Not here: what the stages do (their commands), the report card (demo/report.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lmforge {

struct PipelineStage {
  std::string name, title, what;
  std::vector<std::string> command;  // subcommand words
  // Options in file order: long name -> values (one for scalars, several for lists, none for a
  // true flag); false flags are dropped at parse time.
  std::vector<std::pair<std::string, std::vector<std::string>>> options;
  std::string probes;  // "model", "summary" or "none"
  bool chat = false;
  std::string model;      // model directory to probe ("" when probes != model)
  std::string done_when;  // marker file of a complete stage
  std::string output;     // the --output option ("" if none)
  int line = 0;           // where the stage starts in the YAML, for errors
};

// A benchmark task of the `tasks:` probe list (scored with `lmforge eval --task`).
struct TaskProbe {
  std::string path, name;  // name: the file's stem unless given
  int num_fewshot = 0;
  int64_t limit = 0;  // rows scored (0: all)
};

struct PipelineProbes {
  std::string prompt = "The cat sat on the";
  int top = 5;
  std::string general_val, domain_val, heldout;
  int64_t eval_tokens = 16384;
  int heldout_max = 60;
  std::vector<std::string> samples, chat_samples;
  std::vector<TaskProbe> tasks;
};

struct Pipeline {
  std::string title = "lmforge pipeline";
  std::optional<std::string> simulated_ranker;
  PipelineProbes probes;
  std::vector<PipelineStage> stages;
};

// Parses pipeline YAML text. `file` names the source in errors (InputError with line and
// field). Variables are substituted in every string.
Pipeline parse_pipeline(const std::string& yaml_text, const std::string& file,
                        const std::map<std::string, std::string>& vars);

// Replaces ${NAME}; throws InputError(file, line, field, ...) for an unknown or unclosed one.
std::string substitute_vars(const std::string& s, const std::map<std::string, std::string>& vars,
                            const std::string& file, int line, const std::string& field);

// The argument vector of a stage after the binary: command words, then --name value... in order.
std::vector<std::string> stage_args(const PipelineStage& stage);

// A shell-style rendering of "lmforge ARGS" (arguments quoted when needed), for logs and
// state.json.
std::string shell_command(const std::vector<std::string>& args);

// The resolved pipeline as YAML (DIR/pipeline.yaml): stages with their substituted options.
std::string pipeline_yaml(const Pipeline& p);

struct RunPipelineOptions {
  std::filesystem::path output;  // DIR
  std::filesystem::path binary = "/proc/self/exe";
  bool report = true;  // call `lmforge report --dir DIR` after each stage
};

// Runs every stage in order (see the file comment). Throws UsageError naming every missing
// subcommand before running anything, and RuntimeError naming the stage when one fails
// (its status is then "failed" in state.json).
void run_pipeline(const Pipeline& p, const RunPipelineOptions& opt);

// How the demo sizes itself: `speed` is this machine's training speed over the reference machine's
// (two AVX2 cores training the tiny model at kReferenceTokensPerS; 1 = the reference). A faster
// machine gets a wider model (training cost per token up to sqrt(speed) times tiny's) and steps
// scaled by the rest of its speed; `minutes` scales steps.
struct DemoSizing {
  double speed = 1;
  std::string preset = "tiny", model;  // model: in words, for the report
  int width = 0;                       // n-embd override (0: the preset's)
  int64_t params = 0;                  // parameters of the pretrained model
  double cost = 1;                     // its training time per token over tiny's
  double step_scale = 1;               // steps relative to the --minutes 20 reference run
};
// The sizes the demo chooses from, smallest first; `cost` is the training FLOPs per token over
// tiny's (12·L·C² + V·C), used where no measured cost is given.
struct DemoSize {
  const char* preset;
  int width;  // 0: the preset's
  double cost;
  const char* name;
};
const std::vector<DemoSize>& demo_sizes();
// measured_cost[i] > 0 replaces demo_sizes()[i].cost (tiny's rate over that size's, measured).
DemoSizing demo_sizing(double minutes, double speed, const std::vector<double>& measured_cost = {});
// The demo's pretraining shape: rows of a step, tokens per row, the tokenizer's vocabulary.
constexpr int kDemoBatch = 16, kDemoSeqLen = 128, kDemoVocab = 4096;
// The reference machine's pretraining throughput of the tiny model (tokens/s; two AVX2 cores of an
// AMD EPYC Milan, fp32, idle: docs/PERFORMANCE.md "The demo", runs 1-2).
constexpr double kReferenceTokensPerS = 10400;
// Tokens per second of one training step's forward and backward (no optimizer: its cost is
// O(parameters), under 2% of a step here) of `preset` at width `width` (0: the preset's) on
// kDemoBatch x kDemoSeqLen random tokens of kDemoVocab, at the process's matmul precision and
// threads: the median of `steps` steps after two warm-up steps (a tiny model: ~1 s in all).
double measure_training_tokens_per_s(const std::string& preset, int width, int steps = 5);
// This machine's fp32 GEMM throughput in GFLOP/s: the best of three cpu::sgemm calls at 1024³
// after a warm-up (~0.1 s); shown beside the training rate.
double measure_sgemm_gflops();

// The demo's pipeline YAML for a sizing (demo_sizing) and `minutes` (shown in the title).
std::string builtin_demo_pipeline_yaml(const DemoSizing& z, double minutes);
// The demo's pipeline YAML, sized by demo_sizing(minutes, speed).
std::string builtin_demo_pipeline_yaml(double minutes, double speed = 1.0);

}  // namespace lmforge
