// Benchmark tasks as pipeline probes and on the report card (demo/task_probes.h).
#include "lmforge/demo/task_probes.h"

#include <cstdio>
#include <filesystem>

#include "demo/pipeline_state.h"
#include "lmforge/core/error.h"

namespace lmforge {
namespace fs = std::filesystem;

namespace {
int line_of(const YAML::Node& n) {
  return n.Mark().line + 1;
}

std::string fmt_value(double v, const std::string& metric) {
  char buf[32];
  if (metric.rfind("acc", 0) == 0 || metric == "exact_match")
    std::snprintf(buf, sizeof buf, "%.1f%%", 100 * v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string fmt_score(const demo::BenchmarkScore& b) {
  if (!b.value) return "\u2014";
  std::string s = fmt_value(*b.value, b.metric);
  if (b.stderr_) s += " \u00b1 " + fmt_value(*b.stderr_, b.metric);
  return s;
}

// Task names in first-seen order over the stages, each with its metric.
std::vector<std::pair<std::string, std::string>> columns(const demo::RunState& st) {
  std::vector<std::pair<std::string, std::string>> cols;
  for (const auto& s : st.stages)
    for (const auto& b : s.probes.benchmarks) {
      bool seen = false;
      for (const auto& c : cols) seen = seen || c.first == b.task;
      if (!seen) cols.emplace_back(b.task, b.metric);
    }
  return cols;
}

const demo::BenchmarkScore* find(const demo::StageState& s, const std::string& task) {
  for (const auto& b : s.probes.benchmarks)
    if (b.task == task) return &b;
  return nullptr;
}

std::string esc(const std::string& t, bool html) {
  std::string o;
  for (char c : t) {
    if (html && c == '<')
      o += "&lt;";
    else if (html && c == '>')
      o += "&gt;";
    else if (html && c == '&')
      o += "&amp;";
    else if (html && c == '"')
      o += "&quot;";
    else if (!html && c == '|')
      o += "\\|";
    else
      o += c;
  }
  return o;
}
}  // namespace

std::vector<TaskProbe> parse_task_probes(const YAML::Node& node, const std::string& file,
                                         const std::map<std::string, std::string>& vars) {
  if (!node.IsSequence())
    throw InputError(file, line_of(node), "probes.tasks", "expected a list of task files");
  std::vector<TaskProbe> out;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node n = node[i];
    const std::string field = "probes.tasks[" + std::to_string(i) + "]";
    auto str = [&](const YAML::Node& v, const std::string& f) {
      if (!v.IsScalar()) throw InputError(file, line_of(v), f, "expected a string");
      return substitute_vars(v.as<std::string>(), vars, file, line_of(v), f);
    };
    auto integer = [&](const YAML::Node& v, const std::string& f) -> int64_t {
      try {
        return v.as<int64_t>();
      } catch (const YAML::Exception&) {
        throw InputError(file, line_of(v), f, "expected an integer");
      }
    };
    TaskProbe t;
    if (n.IsScalar()) {
      t.path = str(n, field);
    } else if (n.IsMap()) {
      for (const auto& kv : n) {
        const std::string k = kv.first.as<std::string>();
        if (k != "path" && k != "name" && k != "num_fewshot" && k != "limit")
          throw InputError(file, line_of(kv.first), field + "." + k, "unknown key",
                           "known: path, name, num_fewshot, limit");
      }
      if (!n["path"]) throw InputError(file, line_of(n), field + ".path", "missing");
      t.path = str(n["path"], field + ".path");
      if (n["name"]) t.name = str(n["name"], field + ".name");
      if (n["num_fewshot"]) t.num_fewshot = int(integer(n["num_fewshot"], field + ".num_fewshot"));
      if (n["limit"]) t.limit = integer(n["limit"], field + ".limit");
      if (t.num_fewshot < 0 || t.limit < 0)
        throw InputError(file, line_of(n), field, "num_fewshot and limit must be >= 0");
    } else {
      throw InputError(file, line_of(n), field,
                       "expected a path or {path, name, num_fewshot, limit}");
    }
    if (t.name.empty()) t.name = fs::path(t.path).stem().string();
    out.push_back(std::move(t));
  }
  return out;
}

void emit_task_probes(YAML::Emitter& e, const std::vector<TaskProbe>& tasks) {
  if (tasks.empty()) return;
  e << YAML::Key << "tasks" << YAML::Value << YAML::BeginSeq;
  for (const auto& t : tasks)
    e << YAML::Flow << YAML::BeginMap << YAML::Key << "path" << YAML::Value << t.path << YAML::Key
      << "name" << YAML::Value << t.name << YAML::Key << "num_fewshot" << YAML::Value
      << t.num_fewshot << YAML::Key << "limit" << YAML::Value << t.limit << YAML::EndMap;
  e << YAML::EndSeq;
}

namespace pipeline_detail {

void add_task_probes(Json& probes, const PipelineStage& s, const PipelineProbes& q,
                     const ProbeRunner& r) {
  for (const auto& t : q.tasks) {
    if (!fs::exists(t.path)) {
      std::fprintf(stderr, "  note: task %s does not exist (skipped)\n", t.path.c_str());
      continue;
    }
    std::vector<std::string> a = {"eval",
                                  "--model",
                                  s.model,
                                  "--task",
                                  t.path,
                                  "--num-fewshot",
                                  std::to_string(t.num_fewshot),
                                  "--json"};
    if (t.limit > 0) a.insert(a.end(), {"--limit", std::to_string(t.limit)});
    const auto j = r.json_of(a);
    if (!j || !j->contains("tasks") || (*j)["tasks"].empty()) continue;
    const Json& res = (*j)["tasks"][0];
    const std::string metric = res.value("primary", std::string());
    if (!res.contains("metrics") || !res["metrics"].contains(metric)) continue;
    const Json& m = res["metrics"][metric];
    probes["tasks"][t.name] = {{"metric", metric},      {"value", m["value"]},
                               {"stderr", m["stderr"]}, {"rows", res["rows"]},
                               {"kind", res["kind"]},   {"metrics", res["metrics"]}};
  }
}

std::vector<std::array<std::string, 4>> task_change_rows(const Json& prev, const Json& cur) {
  std::vector<std::array<std::string, 4>> rows;
  if (!cur.contains("tasks")) return rows;
  for (const auto& [name, t] : cur["tasks"].items()) {
    const std::string metric = t.value("metric", std::string());
    auto value = [&](const Json& p) -> Json {
      if (!p.contains("tasks") || !p["tasks"].contains(name)) return nullptr;
      return p["tasks"][name].value("value", Json());
    };
    const Json a = value(prev), b = value(cur);
    auto f = [&](const Json& v) {
      return v.is_number() ? fmt_value(v.get<double>(), metric) : "-";
    };
    std::string change;
    if (a.is_number() && b.is_number()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%+.4g", b.get<double>() - a.get<double>());
      change = buf;
    }
    rows.push_back({"benchmark " + name + " (" + metric + ")", f(a), f(b), change});
  }
  return rows;
}

}  // namespace pipeline_detail

namespace demo {

std::vector<BenchmarkScore> parse_benchmarks(const nlohmann::json& probes) {
  std::vector<BenchmarkScore> out;
  auto it = probes.find("tasks");
  if (it == probes.end() || !it->is_object()) return out;
  for (const auto& [name, t] : it->items()) {
    if (!t.is_object()) continue;
    BenchmarkScore b;
    b.task = name;
    if (t.contains("metric") && t["metric"].is_string()) b.metric = t["metric"];
    if (t.contains("value") && t["value"].is_number()) b.value = t["value"].get<double>();
    if (t.contains("stderr") && t["stderr"].is_number()) b.stderr_ = t["stderr"].get<double>();
    if (t.contains("rows") && t["rows"].is_number_integer()) b.rows = t["rows"].get<int64_t>();
    out.push_back(std::move(b));
  }
  return out;
}

std::string benchmarks_markdown(const RunState& st) {
  const auto cols = columns(st);
  if (cols.empty()) return "";
  std::string o =
      "\n## Benchmarks per stage\n\nScored by `lmforge eval --task` as lm-evaluation-harness "
      "scores them (docs/EVAL.md); value \u00b1 standard error.\n\n| Stage |";
  std::string rule = "|---|";
  for (const auto& [task, metric] : cols)
    o += " " + esc(task, false) + " (" + metric + ") |", rule += "---:|";
  o += "\n" + rule + "\n";
  for (const auto& s : st.stages) {
    if (s.probes.benchmarks.empty()) continue;
    o += "| " + esc(s.title.empty() ? s.name : s.title, false) + " |";
    for (const auto& c : cols) {
      const BenchmarkScore* b = find(s, c.first);
      o += " " + (b ? fmt_score(*b) : std::string("\u2014")) + " |";
    }
    o += "\n";
  }
  return o;
}

std::string benchmarks_html(const RunState& st) {
  const auto cols = columns(st);
  if (cols.empty()) return "";
  std::string o =
      "<section id=\"benchmarks\"><h2>Benchmarks per stage</h2><p class=\"note\">Scored by "
      "<code>lmforge eval --task</code> as lm-evaluation-harness scores them; value \u00b1 "
      "standard error.</p><div class=\"table-wrap\"><table><thead><tr><th>Stage</th>";
  for (const auto& [task, metric] : cols) o += "<th>" + esc(task, true) + " (" + metric + ")</th>";
  o += "</tr></thead><tbody>";
  for (const auto& s : st.stages) {
    if (s.probes.benchmarks.empty()) continue;
    o += "<tr data-stage=\"" + esc(s.name, true) + "\"><th scope=\"row\">" +
         esc(s.title.empty() ? s.name : s.title, true) + "</th>";
    for (const auto& c : cols) {
      const BenchmarkScore* b = find(s, c.first);
      o += "<td class=\"num\">" + esc(b ? fmt_score(*b) : std::string("\u2014"), true) + "</td>";
    }
    o += "</tr>";
  }
  return o + "</tbody></table></div></section>";
}

}  // namespace demo
}  // namespace lmforge
