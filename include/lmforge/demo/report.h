// The report card of a pipeline run (`lmforge report`, and `lmforge demo`/`run` after each
// stage): reads DIR/state.json and each stage's metrics.jsonl, and writes DIR/report.html (one
// self-contained page: inline CSS and inline SVG charts, no scripts, no network) and
// DIR/report.md (markdown tables, charts as DIR/report-assets/*.svg). Shows what each stage did,
// the probes per stage, loss curves, throughput and time, the sample answers before and after,
// and the simulated-ranker notice. Anything missing renders as "—"; only an absent or
// unparsable state.json is an error.
// Not here: running stages or measuring probes (the pipeline runner writes state.json).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lmforge/demo/svg_chart.h"

namespace lmforge::demo {

struct NextWord {
  std::string token;
  std::optional<double> prob;
};

// A benchmark task's primary score on a stage's model (state.json probes.tasks, task_probes.h).
struct BenchmarkScore {
  std::string task, metric;
  std::optional<double> value, stderr_;
  int64_t rows = 0;
};

// Probes measured on a stage's resulting model; every field is optional.
struct Probes {
  std::vector<NextWord> next_word;  // top-5 after "The cat sat on the"
  std::optional<double> general_val_loss, domain_val_loss;
  std::optional<std::string> task_metric_name;
  std::optional<double> task_metric_value;
  std::optional<double> instruct_accuracy, reward_accuracy, mean_reward, kl;
  std::vector<std::pair<std::string, double>> accuracy_by_kind;  // held-out accuracy per kind
  struct HeldoutRow {
    std::string kind, prompt, reference, answer;
    bool correct = false;
  };
  std::vector<HeldoutRow> heldout_answers;  // a few held-out answers per kind
  // The simulated ranker's judgement of this stage's held-out answers against the model it
  // started from (demo/win_rate.h): rate = wins / (wins + losses).
  struct WinRate {
    std::string versus;  // the baseline stage's name
    int prompts = 0, differ = 0, wins = 0, losses = 0, ties = 0;
    std::optional<int> credit_wins, credit_losses;  // decided by credit, not length alone
    std::optional<double> rate;
  };
  std::optional<WinRate> ranker_win_rate;
  std::vector<BenchmarkScore> benchmarks;
  // What the stage ran on (its summary.json): "fp32"/"bf16" and backend::backend_summary().
  std::string precision, backend;
};

struct Sample {
  std::string prompt, answer;
};

struct StageState {
  std::string name, title, what, command, output, status;
  std::optional<double> elapsed_s, tokens_per_s;
  std::string metrics;  // the metrics.jsonl path as written in state.json ("" when null)
  Probes probes;
  std::vector<Sample> samples;
};

struct RunState {
  std::string title;
  std::optional<std::string> simulated_ranker;  // the stated rule when rankings were simulated
  std::vector<StageState> stages;
};

// Parses state.json text. Malformed JSON, a top level that is not an object, or a "format"
// other than "lmforge-pipeline-state" throw InputError naming `file` (and the line for JSON
// syntax errors). Fields that are missing or of the wrong type are left empty.
RunState parse_state(const std::string& json_text, const std::string& file);

// Reads DIR/state.json (InputError with a hint when it does not exist).
RunState load_state(const std::filesystem::path& dir);

// One numeric key of metrics.jsonl over the steps (x = step, or the line number without one).
struct MetricSeries {
  std::string key;
  std::vector<ChartPoint> points;
};

struct StageMetrics {
  std::filesystem::path path;        // the file read ("" when none was found)
  std::vector<MetricSeries> series;  // keys in first-seen order
  int64_t lines = 0, bad_lines = 0;  // JSON objects read; lines skipped (e.g. a partial last one)
  std::optional<double> last_step, last_elapsed_s, mean_tokens_per_s;
  const MetricSeries* find(std::string_view key) const;
};

// Parses metrics.jsonl text; lines that are not JSON objects are counted and skipped.
StageMetrics parse_metrics(const std::string& text);

// Finds and reads a stage's metrics.jsonl: the path in state.json (absolute, relative to DIR, or
// relative to the working directory), else the same file name inside DIR/<last dir of that
// path>, else OUTPUT/metrics.jsonl. Returns an empty StageMetrics when there is none.
StageMetrics load_metrics(const std::filesystem::path& dir, const StageState& stage);

// Everything the report writes, as text.
struct RenderedReport {
  std::string html, md;
  std::vector<std::pair<std::string, std::string>> assets;  // file name in report-assets/, SVG
};

// Renders the report; metrics[i] belongs to state.stages[i] (missing entries count as empty).
// `generated_at` is printed as is (e.g. "2026-11-27 13:30 UTC"). `assets_link` is the relative
// directory the markdown uses for the SVG files.
RenderedReport render_report(const RunState& state, const std::vector<StageMetrics>& metrics,
                             const std::string& generated_at,
                             const std::string& assets_link = "report-assets");

struct ReportOptions {
  std::filesystem::path dir;          // holds state.json
  std::filesystem::path output_html;  // "" = DIR/report.html
  std::filesystem::path output_md;    // "" = DIR/report.md; SVGs go to report-assets/ beside it
};

struct ReportFiles {
  std::filesystem::path html, md, assets_dir;
  size_t charts = 0;
};

// Loads, renders and writes the report atomically (assets directory first, then the markdown,
// then the HTML).
ReportFiles write_report(const ReportOptions& options);

// Text escapes: HTML text and attributes; markdown inline text (backslash-escapes markdown
// punctuation, turns < > & into entities, newlines into <br>).
std::string escape_html(std::string_view text);
std::string escape_markdown(std::string_view text);

}  // namespace lmforge::demo
