// report.md: the report card as markdown (GitHub-flavoured tables); charts are image links to
// the standalone SVG files in report-assets/. Every text from the inputs goes through
// escape_markdown (so a "|" cannot break a table and "<script>" stays text); commands are in
// fences longer than any backtick run they contain.
// Not here: the HTML page (report_html.cpp), chart drawing (svg_chart.cpp).
#include <algorithm>

#include "lmforge/demo/report.h"
#include "lmforge/demo/report_render.h"
#include "lmforge/demo/task_probes.h"

namespace lmforge::demo::detail {
namespace {

std::string md(std::string_view t) {
  return escape_markdown(t);
}

std::string cell(const std::string& text) {
  return text.empty() ? kDash : text;
}

std::string fenced(const std::string& text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  std::string fence(std::max<size_t>(3, longest + 1), '`');
  return fence + "\n" + text + "\n" + fence + "\n";
}

}  // namespace

std::string render_markdown(const RunState& state, const std::vector<StageMetrics>& metrics,
                            const ChartPlan& plan, const std::string& generated_at,
                            const std::string& assets_link) {
  static const StageMetrics kNone;
  std::string title = state.title.empty() ? "lmforge report card" : state.title;
  std::string o = "# " + md(title) + "\n\nReport card generated " + md(generated_at) +
                  " by `lmforge report` (the same content as report.html).\n\n";
  if (state.simulated_ranker)
    o += "> **Simulated ranker.** No person ranked the answers used for the reward model and "
         "RLHF in this run; a stated rule ranked them: \"" +
         md(*state.simulated_ranker) +
         "\". Collect human rankings with `lmforge label` to replace it.\n\n";

  if (const std::string m = machine_line(state); !m.empty())
    o += "Trained on " + md(m) + " (`--precision`, docs/PRECISION.md).\n\n";
  o += "## Probes per stage\n\nMeasured on each stage's resulting model. Next word: the five "
       "most likely tokens after \"" +
       md(kProbePrompt) +
       "\" (\u2423 marks a space).\n\n"
       "| Stage | Next word | General val loss | Domain val loss | Task metric | "
       "Held-out instruction accuracy | Reward-model accuracy | Mean reward | KL |\n"
       "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (size_t i = 0; i < state.stages.size(); ++i) {
    const Probes& p = state.stages[i].probes;
    std::string nw;
    for (const auto& w : p.next_word)
      nw += (nw.empty() ? "" : ", ") + md(visible_token(w.token)) + " " + fmt_percent(w.prob);
    o += "| " + md(stage_label(state.stages[i], i)) + " | " + cell(nw) + " | " +
         fmt_fixed(p.general_val_loss, 3) + " | " + fmt_fixed(p.domain_val_loss, 3) + " | " +
         md(fmt_task_metric(p)) + " | " + fmt_percent(p.instruct_accuracy) + " | " +
         fmt_percent(p.reward_accuracy) + " | " + fmt_significant(p.mean_reward, 3) + " | " +
         fmt_significant(p.kl, 3) + " |\n";
  }
  if (state.stages.empty()) o += "| " + std::string(kDash) + " | | | | | | | | |\n";

  o += heldout_section_markdown(state);
  o += benchmarks_markdown(state);  // demo/task_probes.h ("" without tasks)
  o += "\n## What each stage did\n\n| # | Stage | Status | What |\n|---|---|---|---|\n";
  for (size_t i = 0; i < state.stages.size(); ++i) {
    const StageState& s = state.stages[i];
    o += "| " + std::to_string(i + 1) + " | " + md(stage_label(s, i)) + " | " +
         md(status_or_unknown(s)) + " | " + cell(md(s.what)) + " |\n";
  }
  if (state.stages.empty()) o += "| " + std::string(kDash) + " | | | |\n";

  o += "\n## Training curves\n\n";
  bool any = false;
  for (size_t i = 0; i < plan.per_stage.size(); ++i) {
    if (plan.per_stage[i].empty()) continue;
    any = true;
    o += "### " + md(stage_label(state.stages[i], i)) + "\n\n";
    for (const auto& c : plan.per_stage[i])
      o += "![" + md(c.chart.title) + "](" + assets_link + "/" + c.file + ")\n";
    o += "\n";
  }
  if (!any) o += std::string(kDash) + " (no stage has written metrics yet)\n\n";

  o += "## Throughput and time\n\n";
  if (plan.any_time) o += "![Time per stage](" + assets_link + "/time.svg)\n";
  if (plan.any_throughput) o += "![Training throughput](" + assets_link + "/throughput.svg)\n";
  o += "\n| Stage | Status | Time | Tokens/s | Steps | Final train loss | Final val loss |\n"
       "|---|---|---:|---:|---:|---:|---:|\n";
  for (size_t i = 0; i < state.stages.size(); ++i) {
    const StageState& s = state.stages[i];
    const StageMetrics& m = i < metrics.size() ? metrics[i] : kNone;
    o += "| " + md(stage_label(s, i)) + " | " + md(status_or_unknown(s)) + " | " +
         fmt_duration(stage_elapsed(s, m)) + " | " + fmt_rate(stage_tokens_per_s(s, m)) + " | " +
         fmt_fixed(m.last_step, 0) + " | " + fmt_fixed(last_value(m, "loss"), 3) + " | " +
         fmt_fixed(last_value(m, "val_loss"), 3) + " |\n";
  }

  o += "\n## Samples before and after\n\n";
  auto groups = group_samples(state);
  if (groups.empty()) o += std::string(kDash) + " (no samples recorded)\n\n";
  for (const auto& g : groups) {
    o += "**Prompt:** " + cell(md(g.prompt)) + "\n\n| Stage | Answer |\n|---|---|\n";
    for (const auto& [i, answer] : g.answers)
      o += "| " + md(stage_label(state.stages[i], i)) + " | " + cell(md(answer)) + " |\n";
    o += "\n";
  }

  o += "## Commands\n\n";
  bool any_cmd = false;
  for (size_t i = 0; i < state.stages.size(); ++i) {
    if (state.stages[i].command.empty()) continue;
    any_cmd = true;
    o += "**" + std::to_string(i + 1) + ". " + md(stage_label(state.stages[i], i)) + "**\n\n" +
         fenced(state.stages[i].command) + "\n";
  }
  if (!any_cmd) o += std::string(kDash) + "\n";
  return o;
}

}  // namespace lmforge::demo::detail
