// Reading the report's inputs: DIR/state.json (tolerant: a missing or mistyped field becomes
// "unknown", never an error) and each stage's metrics.jsonl (a partial or corrupt line is
// skipped and counted). Also the text escapes shared by the HTML and markdown writers.
// Not here: rendering (report.cpp, report_html.cpp, report_markdown.cpp).
#include <cmath>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/demo/report.h"
#include "lmforge/demo/report_render.h"
#include "lmforge/demo/task_probes.h"

namespace lmforge::demo {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<double> number(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::string string_or_empty(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

Probes parse_probes(const json& p) {
  Probes r;
  if (!p.is_object()) return r;
  if (auto it = p.find("next_word"); it != p.end() && it->is_array())
    for (const auto& e : *it) {
      if (!e.is_object()) continue;
      NextWord w;
      w.token = string_or_empty(e, "token");
      w.prob = number(e, "prob");
      r.next_word.push_back(std::move(w));
    }
  r.general_val_loss = number(p, "general_val_loss");
  r.domain_val_loss = number(p, "domain_val_loss");
  if (auto it = p.find("task_metric"); it != p.end()) {
    if (it->is_object()) {
      std::string name = string_or_empty(*it, "name");
      if (!name.empty()) r.task_metric_name = name;
      r.task_metric_value = number(*it, "value");
    } else if (it->is_number()) {
      r.task_metric_value = number(p, "task_metric");
    }
  }
  r.instruct_accuracy = number(p, "instruct_accuracy");
  r.reward_accuracy = number(p, "reward_accuracy");
  r.mean_reward = number(p, "mean_reward");
  r.kl = number(p, "kl");
  if (auto it = p.find("instruct_accuracy_by_kind"); it != p.end() && it->is_object())
    for (const auto& [k, v] : it->items())
      if (v.is_number()) r.accuracy_by_kind.emplace_back(k, v.get<double>());
  if (auto it = p.find("heldout_answers"); it != p.end() && it->is_array())
    for (const auto& e : *it) {
      if (!e.is_object()) continue;
      Probes::HeldoutRow row{string_or_empty(e, "kind"), string_or_empty(e, "prompt"),
                             string_or_empty(e, "reference"), string_or_empty(e, "answer"),
                             e.value("correct", false)};
      r.heldout_answers.push_back(std::move(row));
    }
  if (auto it = p.find("ranker_win_rate"); it != p.end() && it->is_object()) {
    Probes::WinRate w;
    w.versus = string_or_empty(*it, "versus");
    auto count = [&](const char* k) {
      const auto v = number(*it, k);
      return v && *v >= 0 ? int(*v) : 0;
    };
    w.prompts = count("prompts");
    w.differ = count("differ");
    w.wins = count("wins");
    w.losses = count("losses");
    w.ties = count("ties");
    if (number(*it, "credit_wins")) w.credit_wins = count("credit_wins");
    if (number(*it, "credit_losses")) w.credit_losses = count("credit_losses");
    w.rate = number(*it, "win_rate");
    r.ranker_win_rate = w;
  }
  r.benchmarks = parse_benchmarks(p);  // demo/task_probes.h
  r.precision = string_or_empty(p, "precision");
  r.backend = string_or_empty(p, "backend");
  return r;
}

int64_t line_of_byte(const std::string& text, size_t byte) {
  int64_t line = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

}  // namespace

RunState parse_state(const std::string& text, const std::string& file) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InputError(file, static_cast<int64_t>(line_of_byte(text, e.byte > 0 ? e.byte - 1 : 0)),
                     "", std::string("not valid JSON: ") + e.what(),
                     "state.json is written by `lmforge run` / `lmforge demo`");
  }
  if (!j.is_object())
    throw InputError(file, 0, "", "expected a JSON object at the top level",
                     "state.json is written by `lmforge run` / `lmforge demo`");
  if (auto it = j.find("format"); it != j.end() && *it != "lmforge-pipeline-state")
    throw InputError(file, 0, "format", "expected \"lmforge-pipeline-state\", got " + it->dump(),
                     "pass the directory of a pipeline run (--dir)");
  RunState s;
  s.title = string_or_empty(j, "title");
  if (auto it = j.find("simulated_ranker");
      it != j.end() && it->is_string() && !it->get<std::string>().empty())
    s.simulated_ranker = it->get<std::string>();
  if (auto it = j.find("stages"); it != j.end() && it->is_array())
    for (const auto& st : *it) {
      if (!st.is_object()) continue;
      StageState g;
      g.name = string_or_empty(st, "name");
      g.title = string_or_empty(st, "title");
      g.what = string_or_empty(st, "what");
      g.command = string_or_empty(st, "command");
      g.output = string_or_empty(st, "output");
      g.status = string_or_empty(st, "status");
      g.elapsed_s = number(st, "elapsed_s");
      g.tokens_per_s = number(st, "tokens_per_s");
      g.metrics = string_or_empty(st, "metrics");
      if (auto p = st.find("probes"); p != st.end()) g.probes = parse_probes(*p);
      if (auto sm = st.find("samples"); sm != st.end() && sm->is_array())
        for (const auto& e : *sm)
          if (e.is_object())
            g.samples.push_back({string_or_empty(e, "prompt"), string_or_empty(e, "answer")});
      s.stages.push_back(std::move(g));
    }
  return s;
}

RunState load_state(const fs::path& dir) {
  fs::path p = dir / "state.json";
  if (!fs::exists(p))
    throw InputError(p.string(), 0, "", "no state.json in " + dir.string(),
                     "run `lmforge demo --output DIR` or `lmforge run PIPELINE.yaml --output DIR` "
                     "first, then pass that DIR");
  return parse_state(read_file(p), p.string());
}

const MetricSeries* StageMetrics::find(std::string_view key) const {
  for (const auto& s : series)
    if (s.key == key) return &s;
  return nullptr;
}

StageMetrics parse_metrics(const std::string& text) {
  StageMetrics m;
  double tps_sum = 0;
  int64_t tps_n = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      ++m.bad_lines;
      continue;
    }
    ++m.lines;
    double x = number(j, "step").value_or(static_cast<double>(m.lines));
    m.last_step = x;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "step") continue;
      // null is how a non-finite value is written: keep it as a gap in the line.
      if (!it->is_number() && !it->is_null()) continue;
      double y = it->is_number() ? it->get<double>() : NAN;
      MetricSeries* s = nullptr;
      for (auto& e : m.series)
        if (e.key == it.key()) s = &e;
      if (!s) {
        if (it->is_null()) continue;  // a key is charted from its first real value on
        m.series.push_back({it.key(), {}});
        s = &m.series.back();
      }
      s->points.push_back({x, y});
    }
    if (auto e = number(j, "elapsed_s")) m.last_elapsed_s = e;
    if (auto t = number(j, "tokens_per_s"); t && *t > 0) tps_sum += *t, ++tps_n;
  }
  if (tps_n > 0) m.mean_tokens_per_s = tps_sum / static_cast<double>(tps_n);
  return m;
}

StageMetrics load_metrics(const fs::path& dir, const StageState& stage) {
  std::vector<fs::path> candidates;
  if (!stage.metrics.empty()) {
    fs::path p(stage.metrics);
    if (p.is_absolute()) {
      candidates.push_back(p);
    } else {
      candidates.push_back(dir / p);
      candidates.push_back(p);
    }
    // The run directory was moved or is read from elsewhere: DIR/<stage dir>/metrics.jsonl.
    if (p.has_parent_path() && p.parent_path().has_filename())
      candidates.push_back(dir / p.parent_path().filename() / p.filename());
  }
  if (!stage.output.empty()) {
    fs::path o(stage.output);
    candidates.push_back((o.is_absolute() ? o : dir / o) / "metrics.jsonl");
    if (!o.is_absolute()) candidates.push_back(o / "metrics.jsonl");
    if (o.has_filename()) candidates.push_back(dir / o.filename() / "metrics.jsonl");
  }
  for (const auto& c : candidates) {
    std::error_code ec;
    if (!fs::is_regular_file(c, ec)) continue;
    StageMetrics m;
    try {
      m = parse_metrics(read_file(c));
    } catch (const InputError&) {
      continue;  // unreadable: shown as no metrics, like a missing file
    }
    m.path = c;
    return m;
  }
  return {};
}

std::string escape_html(std::string_view t) {
  return escape_xml(t);
}

std::string escape_markdown(std::string_view t) {
  std::string o;
  o.reserve(t.size());
  for (char ch : t) {
    switch (ch) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '\n':
        o += "<br>";
        break;
      case '\r':
        break;
      // Only what can start markup inside a line: "(" is harmless once "[" is escaped.
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '|':
      case '~':
        o += '\\';
        o += ch;
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t')
          o += "\xEF\xBF\xBD";
        else
          o += ch;
    }
  }
  return o;
}

}  // namespace lmforge::demo

namespace lmforge::demo::detail {

std::string machine_line(const RunState& state) {
  std::string out;
  for (const StageState& st : state.stages) {
    const std::string& b = st.probes.backend;
    if (!b.empty() && out.find(b) == std::string::npos) out += (out.empty() ? "" : "; ") + b;
  }
  return out;
}

}  // namespace lmforge::demo::detail
