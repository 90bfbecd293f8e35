// `lmforge eval --task`: runs a benchmark task (eval/task.h) on a model and reports the harness's
// metrics with standard errors: multiple_choice -> acc, acc_norm (mean_stderr); generation ->
// exact_match (mean_stderr); perplexity -> word_perplexity, byte_perplexity, bits_per_byte
// (bootstrap over documents; the harness prints N/A there). Per-row details (token ids,
// log-likelihoods, predictions, generated text) come back too, for --rows and the parity test.
// Not here: option parsing (src/cli/eval.cpp), the pipeline's task probes (demo/task_probes.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lmforge/eval/loglik.h"
#include "lmforge/eval/metrics.h"
#include "lmforge/eval/task.h"
#include "lmforge/infer/loaded_model.h"

namespace lmforge {

struct TaskEvalOptions {
  PromptOptions prompt;
  std::string fewshot_file;    // a separate split for the examples ("" : the task itself)
  int64_t limit = 0;           // score the first N rows (0: all)
  int max_length = 0;          // window (0: the model's n_ctx)
  bool shared_context = true;  // false: every choice on its own (the plain way, for checks)
  // generation
  std::vector<std::string> stop = {"\n\n"};  // the harness's default `until`: the fewshot delimiter
  int max_gen_tokens = 256;
  std::string answer_regex;  // "" : the whole (stripped) response
  int group_select = 0;
  std::string fallback = "[invalid]";
  ExactMatchOptions match;
  bool chat = false;  // the prompt as one user message through the model's chat template
  int gen_batch = 8;  // sequences generated together
  // perplexity
  int bootstrap_iters = 1000;
  uint64_t bootstrap_seed = 1234;
};

struct MetricValue {
  std::string name;
  double value = 0, stderr_ = 0;
  std::string stderr_method;  // "mean_stderr" | "bootstrap"
};

struct RowResult {
  int64_t line = 0;
  std::vector<int32_t> context_ids;
  std::vector<std::vector<int32_t>> continuation_ids;  // one per choice
  std::vector<double> lls;
  std::vector<bool> greedy;
  int pred = -1, pred_norm = -1;
  double acc = 0, acc_norm = 0;
  std::string response, extracted;  // generation
  double exact_match = 0;
  DocLogLik doc;  // perplexity
};

struct TaskResult {
  std::string name, file;
  TaskKind kind = TaskKind::kMultipleChoice;
  int64_t rows = 0;
  int num_fewshot = 0;
  std::vector<MetricValue> metrics;
  std::vector<RowResult> details;
  double seconds = 0;  // scoring time (model loaded, prompts built)
  // The primary metric (acc_norm, exact_match, word_perplexity) for one-number summaries.
  const MetricValue& primary() const;
};

// Runs the task on the loaded model. InputError for bad task rows, UsageError for bad options.
TaskResult evaluate_task(LoadedModel& model, const Task& task, const TaskEvalOptions& opt);

}  // namespace lmforge

#include <nlohmann/json.hpp>

namespace lmforge {
// {"name","file","kind","rows","num_fewshot","seconds","rows_per_s","metrics":{NAME:{"value",
// "stderr","stderr_method"}}}: what `lmforge eval --task --json` prints per task.
nlohmann::ordered_json task_result_json(const TaskResult& r);
// One row's details (ids, log-likelihoods, predictions / response / document counts).
nlohmann::ordered_json row_result_json(const TaskResult& r, const RowResult& d);
// The plain-text table of a result ("acc  0.3550 ± 0.0339" per metric).
std::string task_result_text(const TaskResult& r);
}  // namespace lmforge
