// report.html: one self-contained page (inline CSS, inline SVG charts, no scripts, no external
// resources; a Content-Security-Policy forbids anything else) with a light and a dark theme.
// Every text from state.json or metrics.jsonl goes through escape_html.
// Not here: chart drawing (svg_chart.cpp), the markdown twin (report_markdown.cpp).
#include <cmath>

#include "lmforge/demo/report.h"
#include "lmforge/demo/report_render.h"
#include "lmforge/demo/task_probes.h"

namespace lmforge::demo::detail {
namespace {

const char* kCss = R"css(
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--card:#f6f8fa;
--border:#d1d9e0;--accent:#0969da;--warn-bg:#fff8c5;--warn-border:#d4a72c}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--card:#151b23;--border:#3d444d;--accent:#4493f8;--warn-bg:#2e2408;--warn-border:#9e6a03}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:28px;margin:0 0 4px}h2{font-size:21px;margin:36px 0 12px;padding-bottom:4px;
border-bottom:1px solid var(--border)}h3{font-size:16px;margin:18px 0 6px}
.meta,.note{color:var(--muted);font-size:13px}
a{color:var(--accent)}
code,pre,.tok{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:var(--card);border:1px solid var(--border);border-radius:6px;padding:8px 10px;
margin:6px 0;white-space:pre-wrap;word-break:break-word}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:8px 0;font-size:14px}
th,td{border:1px solid var(--border);padding:5px 9px;text-align:left;vertical-align:top}
th{background:var(--card);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.dash{text-align:center;color:var(--muted)}
.badge{display:inline-block;font-size:12px;font-weight:600;border-radius:10px;padding:0 8px;
margin-left:8px;vertical-align:2px;color:#fff;background:#6e7781}
.status-done{background:#1a7f37}.status-running{background:#9a6700}
.status-failed{background:#cf222e}
.notice{border:1px solid var(--warn-border);border-left-width:5px;background:var(--warn-bg);
border-radius:6px;padding:10px 14px;margin:16px 0}
ol.stages{list-style:none;padding:0;margin:0;display:grid;
grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
ol.stages>li{border:1px solid var(--border);border-radius:8px;padding:10px 14px;background:var(--bg)}
ol.stages h3{margin:0 0 4px}.stage-id{color:var(--muted);font-size:13px}
.nw{display:block;white-space:nowrap}
.tok{background:var(--card);border:1px solid var(--border);border-radius:4px;padding:0 4px}
.charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
figure{margin:0}
svg.lmf-chart{max-width:100%;height:auto;background:var(--card);border:1px solid var(--border);
border-radius:6px}
td.answer{white-space:pre-wrap;max-width:760px}
.prompt{margin:18px 0 4px}
)css";

std::string h(std::string_view t) {
  return escape_html(t);
}

// A table cell: numbers right-aligned, "—" centred and muted.
std::string num_cell(const std::string& text) {
  return text == kDash ? "<td class=\"dash\">" + std::string(kDash) + "</td>"
                       : "<td class=\"num\">" + h(text) + "</td>";
}

std::string badge(const StageState& s) {
  std::string st = status_or_unknown(s);
  std::string cls;
  for (char c : st) cls += (c >= 'a' && c <= 'z') ? c : '-';
  return "<span class=\"badge status-" + cls + "\">" + h(st) + "</span>";
}

void stages_section(std::string& o, const RunState& state) {
  o += "<section id=\"stages\"><h2>What each stage did</h2>";
  if (state.stages.empty()) {
    o += "<p>" + std::string(kDash) + " (no stages in state.json yet)</p></section>";
    return;
  }
  o += "<ol class=\"stages\">";
  for (size_t i = 0; i < state.stages.size(); ++i) {
    const StageState& s = state.stages[i];
    o += "<li data-stage=\"" + h(s.name) + "\"><h3>" + std::to_string(i + 1) + ". " +
         h(stage_label(s, i)) + badge(s) + "</h3>";
    if (!s.name.empty()) o += "<div class=\"stage-id\">stage <code>" + h(s.name) + "</code></div>";
    o += "<p>" + (s.what.empty() ? std::string(kDash) : h(s.what)) + "</p>";
    if (!s.command.empty()) o += "<pre><code>" + h(s.command) + "</code></pre>";
    if (!s.output.empty())
      o += "<div class=\"meta\">output: <code>" + h(s.output) + "</code></div>";
    o += "</li>";
  }
  o += "</ol></section>";
}

void probes_section(std::string& o, const RunState& state) {
  o += "<section id=\"probes\"><h2>Probes per stage</h2>"
       "<p class=\"note\">Measured on each stage's resulting model. Next word: the five most "
       "likely tokens after \u201c" +
       h(kProbePrompt) +
       "\u201d (\u2423 marks a space). Losses in nats per token on held-out text.</p>"
       "<div class=\"scroll\"><table class=\"probes\"><thead><tr><th>Stage</th>"
       "<th>Next word after \u201c" +
       h(kProbePrompt) +
       "\u201d</th>"
       "<th>General val loss</th><th>Domain val loss</th><th>Task metric</th>"
       "<th>Held-out instruction accuracy</th><th>Reward-model accuracy</th>"
       "<th>Mean reward</th><th>KL</th></tr></thead><tbody>";
  for (size_t i = 0; i < state.stages.size(); ++i) {
    const StageState& s = state.stages[i];
    const Probes& p = s.probes;
    o += "<tr data-stage=\"" + h(s.name) + "\"><th scope=\"row\" title=\"" + h(s.what) + "\">" +
         h(stage_label(s, i)) + "</th>";
    if (p.next_word.empty()) {
      o += "<td class=\"dash\">" + std::string(kDash) + "</td>";
    } else {
      o += "<td>";
      for (const auto& w : p.next_word)
        o += "<span class=\"nw\"><span class=\"tok\">" + h(visible_token(w.token)) + "</span> " +
             h(fmt_percent(w.prob)) + "</span>";
      o += "</td>";
    }
    o += num_cell(fmt_fixed(p.general_val_loss, 3)) + num_cell(fmt_fixed(p.domain_val_loss, 3)) +
         num_cell(fmt_task_metric(p)) + num_cell(fmt_percent(p.instruct_accuracy)) +
         num_cell(fmt_percent(p.reward_accuracy)) + num_cell(fmt_significant(p.mean_reward, 3)) +
         num_cell(fmt_significant(p.kl, 3)) + "</tr>";
  }
  if (state.stages.empty())
    o += "<tr><td class=\"dash\" colspan=\"9\">" + std::string(kDash) + "</td></tr>";
  o += "</tbody></table></div></section>";
}

void curves_section(std::string& o, const RunState& state, const ChartPlan& plan) {
  o += "<section id=\"curves\"><h2>Training curves</h2>"
       "<p class=\"note\">Train loss at every step, validation loss where it was measured; "
       "other per-step values a stage logs get their own chart. Long curves keep each pixel "
       "column's minimum and maximum, so spikes stay visible.</p><div class=\"charts\">";
  bool any = false;
  for (size_t i = 0; i < plan.per_stage.size(); ++i)
    for (const auto& c : plan.per_stage[i]) {
      any = true;
      o += "<figure data-stage=\"" + h(state.stages[i].name) + "\">" +
           render_line_chart(c.chart, SvgOptions{.standalone = false}) + "</figure>";
    }
  o += "</div>";
  if (!any) o += "<p>" + std::string(kDash) + " (no stage has written metrics yet)</p>";
  o += "</section>";
}

void throughput_section(std::string& o, const RunState& state,
                        const std::vector<StageMetrics>& metrics, const ChartPlan& plan) {
  static const StageMetrics kNone;
  o += "<section id=\"throughput\"><h2>Throughput and time</h2><div class=\"charts\">";
  if (plan.any_time) o += render_bar_chart(plan.time, SvgOptions{.standalone = false});
  if (plan.any_throughput) o += render_bar_chart(plan.throughput, SvgOptions{.standalone = false});
  o += "</div><div class=\"scroll\"><table class=\"times\"><thead><tr><th>Stage</th>"
       "<th>Status</th><th>Time</th><th>Tokens/s</th><th>Steps</th><th>Final train loss</th>"
       "<th>Final val loss</th></tr></thead><tbody>";
  double total = 0;
  bool any_total = false;
  for (size_t i = 0; i < state.stages.size(); ++i) {
    const StageState& s = state.stages[i];
    const StageMetrics& m = i < metrics.size() ? metrics[i] : kNone;
    auto e = stage_elapsed(s, m);
    if (e) total += *e, any_total = true;
    o += "<tr data-stage=\"" + h(s.name) + "\"><th scope=\"row\">" + h(stage_label(s, i)) +
         "</th><td>" + h(status_or_unknown(s)) + "</td>" + num_cell(fmt_duration(e)) +
         num_cell(fmt_rate(stage_tokens_per_s(s, m))) + num_cell(fmt_fixed(m.last_step, 0)) +
         num_cell(fmt_fixed(last_value(m, "loss"), 3)) +
         num_cell(fmt_fixed(last_value(m, "val_loss"), 3)) + "</tr>";
  }
  o += "</tbody><tfoot><tr><th scope=\"row\">Total</th><td></td>" +
       num_cell(any_total ? fmt_duration(total) : kDash) +
       "<td colspan=\"4\"></td></tr></tfoot></table></div></section>";
}

void samples_section(std::string& o, const RunState& state) {
  o += "<section id=\"samples\"><h2>Samples before and after</h2>";
  auto groups = group_samples(state);
  if (groups.empty()) o += "<p>" + std::string(kDash) + " (no samples recorded)</p>";
  for (const auto& g : groups) {
    o += "<p class=\"prompt\"><strong>Prompt:</strong> <code>" + h(g.prompt) +
         "</code></p><div class=\"scroll\"><table class=\"samples\"><thead><tr><th>Stage</th>"
         "<th>Answer</th></tr></thead><tbody>";
    for (const auto& [i, answer] : g.answers)
      o += "<tr><th scope=\"row\">" + h(stage_label(state.stages[i], i)) +
           "</th><td class=\"answer\">" + (answer.empty() ? std::string(kDash) : h(answer)) +
           "</td></tr>";
    o += "</tbody></table></div>";
  }
  o += "</section>";
}

}  // namespace

std::string render_html(const RunState& state, const std::vector<StageMetrics>& metrics,
                        const ChartPlan& plan, const std::string& generated_at) {
  std::string title = state.title.empty() ? "lmforge report card" : state.title;
  size_t done = 0;
  for (const auto& s : state.stages) done += s.status == "done";
  std::string o =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<meta name=\"color-scheme\" content=\"light dark\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; img-src data:\">"
      "<title>" +
      h(title) + "</title><style>" + kCss + svg_chart_css() + "</style></head>\n<body><main>";
  o += "<header><h1>" + h(title) + "</h1><p class=\"meta\">Report card generated " +
       h(generated_at) + " by <code>lmforge report</code> \u00b7 " +
       std::to_string(state.stages.size()) + " stages, " + std::to_string(done) + " done</p>" +
       (machine_line(state).empty()
            ? std::string()
            : "<p class=\"meta\" id=\"machine\">Trained on " + h(machine_line(state)) + "</p>") +
       "</header>";
  if (state.simulated_ranker)
    o += "<div class=\"notice\" id=\"simulated-ranker\"><strong>Simulated ranker.</strong> No "
         "person ranked the answers used for the reward model and RLHF in this run; a stated "
         "rule ranked them: <q>" +
         h(*state.simulated_ranker) +
         "</q>. Collect human rankings with <code>lmforge label</code> to replace it.</div>";
  probes_section(o, state);
  o += heldout_section_html(state);
  o += benchmarks_html(state);  // demo/task_probes.h ("" without tasks)
  stages_section(o, state);
  curves_section(o, state, plan);
  throughput_section(o, state, metrics, plan);
  samples_section(o, state);
  o += "<footer class=\"meta\"><p>Self-contained page: no scripts, no network. A markdown "
       "version with the same tables is report.md beside this file.</p></footer>";
  o += "</main></body></html>\n";
  return o;
}

}  // namespace lmforge::demo::detail
