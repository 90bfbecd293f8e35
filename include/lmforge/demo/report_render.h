// Internals shared by the report's HTML and markdown writers (report_html.cpp,
// report_markdown.cpp): value formatting with "—" for anything missing, the chart plan (which
// charts each stage gets and their asset file names), and samples grouped by prompt.
// Not a stable API: use report.h.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "lmforge/demo/report.h"
#include "lmforge/demo/svg_chart.h"

namespace lmforge::demo::detail {

inline constexpr const char* kDash = "\u2014";
inline constexpr const char* kProbePrompt = "The cat sat on the";

std::string fmt_fixed(std::optional<double> v, int decimals);
std::string fmt_significant(std::optional<double> v, int digits);  // 31.2, 0.0512, 9.0k
std::string fmt_percent(std::optional<double> fraction);           // 0.423 -> "42.3%"
std::string fmt_duration(std::optional<double> seconds);           // "42.0 s", "3 min 05 s"
std::string fmt_rate(std::optional<double> per_s);                 // "9,000"
std::string fmt_task_metric(const Probes& p);                      // "chrF 31.20"
// Makes whitespace in a token visible: space -> "␣", newline -> "↵", tab -> "⇥".
std::string visible_token(const std::string& token);
// "Pretraining" (title), else the name, else "stage N" (1-based).
std::string stage_label(const StageState& s, size_t index);
std::string status_or_unknown(const StageState& s);

// Time and throughput: state.json's values, else derived from the metrics.
std::optional<double> stage_elapsed(const StageState& s, const StageMetrics& m);
std::optional<double> stage_tokens_per_s(const StageState& s, const StageMetrics& m);
std::optional<double> last_value(const StageMetrics& m, const std::string& key);

struct StageChart {
  std::string file;  // asset file name, e.g. "02-pretrain-loss.svg"
  LineChart chart;
  bool main = false;  // the stage's loss chart (drawn large)
};

struct ChartPlan {
  std::vector<std::vector<StageChart>> per_stage;  // index = stage index
  BarChart time, throughput;
  bool any_time = false, any_throughput = false;
};

ChartPlan plan_charts(const RunState& state, const std::vector<StageMetrics>& metrics);

struct PromptAnswers {
  std::string prompt;
  std::vector<std::pair<size_t, std::string>> answers;  // (stage index, answer) in stage order
};
// Samples grouped by prompt (first-seen order), so each prompt's answers read before -> after.
std::vector<PromptAnswers> group_samples(const RunState& state);

// Held-out instructions: accuracy per kind (rows) for every chat stage (columns), then each chat
// stage's sample answers (kind, prompt, reference, answer, right or not). Empty when no stage
// measured per-kind accuracy. report_heldout.cpp.
std::string heldout_section_html(const RunState& state);
std::string heldout_section_markdown(const RunState& state);

// "cpu: ..., precision: ..., gemm: ..." of the stages that recorded one (summary.json's
// "backend"), distinct ones joined by "; " ("" when none did). report_data.cpp.
std::string machine_line(const RunState& state);

std::string render_html(const RunState& state, const std::vector<StageMetrics>& metrics,
                        const ChartPlan& plan, const std::string& generated_at);
std::string render_markdown(const RunState& state, const std::vector<StageMetrics>& metrics,
                            const ChartPlan& plan, const std::string& generated_at,
                            const std::string& assets_link);

}  // namespace lmforge::demo::detail
