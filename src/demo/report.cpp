// The report card's driver: formatting helpers, the chart plan (which curves each stage gets),
// render_report() and write_report() with atomic writes (assets directory, then markdown, then
// HTML, so a page never links to a chart that is not there yet).
// Not here: parsing inputs (report_data.cpp), page layout (report_html.cpp, report_markdown.cpp).
#include "lmforge/demo/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/demo/report_render.h"

namespace lmforge::demo {
namespace fs = std::filesystem;

namespace detail {

std::string fmt_fixed(std::optional<double> v, int decimals) {
  if (!v || !std::isfinite(*v)) return kDash;
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, *v);
  return b;
}

std::string fmt_significant(std::optional<double> v, int digits) {
  if (!v || !std::isfinite(*v)) return kDash;
  double a = std::fabs(*v);
  if (a >= 1e4) return fmt_rate(v);
  int before = a == 0 ? 1 : static_cast<int>(std::floor(std::log10(a))) + 1;
  return fmt_fixed(v, std::clamp(digits - before, 0, 8));
}

std::string fmt_percent(std::optional<double> f) {
  if (!f || !std::isfinite(*f)) return kDash;
  return fmt_fixed(*f * 100, 1) + "%";
}

std::string fmt_duration(std::optional<double> s) {
  if (!s || !std::isfinite(*s) || *s < 0) return kDash;
  char b[64];
  if (*s < 60) {
    std::snprintf(b, sizeof b, "%.1f s", *s);
  } else if (*s < 3600) {
    long t = std::lround(*s);
    std::snprintf(b, sizeof b, "%ld min %02ld s", t / 60, t % 60);
  } else {
    long t = std::lround(*s / 60);
    std::snprintf(b, sizeof b, "%ld h %02ld min", t / 60, t % 60);
  }
  return b;
}

std::string fmt_rate(std::optional<double> r) {
  if (!r || !std::isfinite(*r)) return kDash;
  if (std::fabs(*r) < 100) return fmt_fixed(r, 1);
  long long n = std::llround(*r);
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string fmt_task_metric(const Probes& p) {
  if (!p.task_metric_value) return kDash;
  std::string v = fmt_significant(p.task_metric_value, 4);
  return p.task_metric_name ? *p.task_metric_name + " " + v : v;
}

std::string visible_token(const std::string& t) {
  std::string o;
  for (char c : t) {
    if (c == ' ')
      o += "\u2423";
    else if (c == '\n')
      o += "\u21b5";
    else if (c == '\t')
      o += "\u21e5";
    else
      o += c;
  }
  return o.empty() ? "\u2205" : o;  // an empty token still shows something
}

std::string stage_label(const StageState& s, size_t index) {
  if (!s.title.empty()) return s.title;
  if (!s.name.empty()) return s.name;
  return "stage " + std::to_string(index + 1);
}

std::string status_or_unknown(const StageState& s) {
  return s.status.empty() ? "unknown" : s.status;
}

std::optional<double> stage_elapsed(const StageState& s, const StageMetrics& m) {
  return s.elapsed_s ? s.elapsed_s : m.last_elapsed_s;
}

std::optional<double> stage_tokens_per_s(const StageState& s, const StageMetrics& m) {
  return s.tokens_per_s ? s.tokens_per_s : m.mean_tokens_per_s;
}

std::optional<double> last_value(const StageMetrics& m, const std::string& key) {
  const MetricSeries* s = m.find(key);
  if (!s) return std::nullopt;
  for (auto it = s->points.rbegin(); it != s->points.rend(); ++it)
    if (std::isfinite(it->y)) return it->y;
  return std::nullopt;
}

namespace {

// Two charts side by side fit the page's 1080-pixel column.
constexpr int kChartWidth = 530;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Keys every training step writes; they are shown in the tables, not as curves of their own.
bool bookkeeping_key(const std::string& k) {
  return k == "lr" || k == "grad_norm" || k == "tokens_per_s" || k == "mfu" || k == "elapsed_s";
}

std::string file_part(const std::string& s) {
  std::string o;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a'), ok = true;
    o += ok ? c : '-';
  }
  if (o.size() > 40) o.resize(40);
  return o.empty() ? "stage" : o;
}

std::string pretty_key(std::string k) {
  for (char& c : k)
    if (c == '_') c = ' ';
  return k;
}

}  // namespace

ChartPlan plan_charts(const RunState& state, const std::vector<StageMetrics>& metrics) {
  static const StageMetrics kNone;
  ChartPlan plan;
  plan.per_stage.resize(state.stages.size());
  plan.time.title = "Time per stage";
  plan.time.value_label = "seconds";
  plan.time.unit = " s";
  plan.throughput.title = "Training throughput";
  plan.throughput.value_label = "tokens per second";
  plan.time.width = plan.throughput.width = kChartWidth;
  for (size_t i = 0; i < state.stages.size(); ++i) {
    const StageState& st = state.stages[i];
    const StageMetrics& m = i < metrics.size() ? metrics[i] : kNone;
    std::string label = stage_label(st, i);
    std::string number = std::to_string(i + 1);
    if (number.size() < 2) number = "0" + number;
    std::string stem = number + "-" + file_part(st.name.empty() ? label : st.name);

    auto e = stage_elapsed(st, m);
    plan.time.bars.push_back({label, e ? *e : NAN});
    plan.any_time = plan.any_time || e.has_value();
    auto t = stage_tokens_per_s(st, m);
    if (t) {
      plan.throughput.bars.push_back({label, *t});
      plan.any_throughput = true;
    }

    StageChart loss;
    loss.main = true;
    loss.file = stem + "-loss.svg";
    loss.chart.title = label + ": loss";
    loss.chart.x_label = "step";
    loss.chart.y_label = "loss (nats/token)";
    loss.chart.width = kChartWidth;
    loss.chart.height = 290;
    // Fixed order (train, val, other val losses) so a curve has the same colour in every stage.
    if (const MetricSeries* s = m.find("loss"))
      loss.chart.series.push_back({"train loss", s->points, true, false});
    if (const MetricSeries* s = m.find("val_loss"))
      loss.chart.series.push_back({"val loss", s->points, true, true});
    std::vector<StageChart> extras;
    for (const auto& s : m.series) {
      if (s.key == "loss" || s.key == "val_loss") continue;
      if (ends_with(s.key, "val_loss")) {
        loss.chart.series.push_back({pretty_key(s.key), s.points, true, true});
      } else if (!bookkeeping_key(s.key)) {
        StageChart c;
        c.file = stem + "-" + file_part(s.key) + ".svg";
        c.chart.title = label + ": " + pretty_key(s.key);
        c.chart.x_label = "step";
        c.chart.y_label = pretty_key(s.key);
        c.chart.width = kChartWidth;
        c.chart.height = 230;
        c.chart.series.push_back({pretty_key(s.key), s.points, true, s.points.size() <= 40});
        extras.push_back(std::move(c));
      }
    }
    if (!loss.chart.series.empty()) plan.per_stage[i].push_back(std::move(loss));
    for (auto& c : extras) plan.per_stage[i].push_back(std::move(c));
  }
  // Minutes read better than seconds once a stage takes more than five minutes.
  double longest = 0;
  for (const auto& b : plan.time.bars)
    if (std::isfinite(b.value)) longest = std::max(longest, b.value);
  if (longest > 300) {
    for (auto& b : plan.time.bars) b.value /= 60;
    plan.time.value_label = "minutes";
    plan.time.unit = " min";
  }
  return plan;
}

std::vector<PromptAnswers> group_samples(const RunState& state) {
  std::vector<PromptAnswers> groups;
  for (size_t i = 0; i < state.stages.size(); ++i)
    for (const auto& s : state.stages[i].samples) {
      PromptAnswers* g = nullptr;
      for (auto& e : groups)
        if (e.prompt == s.prompt) g = &e;
      if (!g) {
        groups.push_back({s.prompt, {}});
        g = &groups.back();
      }
      g->answers.push_back({i, s.answer});
    }
  return groups;
}

}  // namespace detail

RenderedReport render_report(const RunState& state, const std::vector<StageMetrics>& metrics,
                             const std::string& generated_at, const std::string& assets_link) {
  detail::ChartPlan plan = detail::plan_charts(state, metrics);
  RenderedReport r;
  r.html = detail::render_html(state, metrics, plan, generated_at);
  r.md = detail::render_markdown(state, metrics, plan, generated_at, assets_link);
  for (const auto& stage : plan.per_stage)
    for (const auto& c : stage) r.assets.push_back({c.file, render_line_chart(c.chart)});
  if (plan.any_time) r.assets.push_back({"time.svg", render_bar_chart(plan.time)});
  if (plan.any_throughput)
    r.assets.push_back({"throughput.svg", render_bar_chart(plan.throughput)});
  return r;
}

ReportFiles write_report(const ReportOptions& o) {
  if (o.dir.empty()) throw UsageError("report: --dir is required");
  RunState state = load_state(o.dir);
  std::vector<StageMetrics> metrics;
  for (const auto& st : state.stages) metrics.push_back(load_metrics(o.dir, st));

  ReportFiles f;
  f.html = o.output_html.empty() ? o.dir / "report.html" : o.output_html;
  f.md = o.output_md.empty() ? o.dir / "report.md" : o.output_md;
  f.assets_dir = (f.md.has_parent_path() ? f.md.parent_path() : fs::path(".")) / "report-assets";

  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
  RenderedReport r = render_report(state, metrics, when, "report-assets");
  f.charts = r.assets.size();

  for (const fs::path& p : {f.html, f.md})
    if (p.has_parent_path()) fs::create_directories(p.parent_path());
  write_dir_atomic(f.assets_dir, [&](const fs::path& tmp) {
    for (const auto& [name, svg] : r.assets) write_file_atomic(tmp / name, svg);
  });
  write_file_atomic(f.md, r.md);
  write_file_atomic(f.html, r.html);
  return f;
}

}  // namespace lmforge::demo
