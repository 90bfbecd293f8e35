// The probes measured on each stage's model, and the "what changed" table (see
// demo/pipeline.h). Every measurement is a child `lmforge` command with --json output, so a
// probe that fails (a model the command cannot load, e.g. a reward model) is skipped with a
// notice and never stops the pipeline.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "demo/pipeline_state.h"
#include "lmforge/core/file_util.h"
#include "lmforge/demo/task_probes.h"

namespace lmforge::pipeline_detail {
namespace fs = std::filesystem;

namespace {

const int kHeldoutSamplesPerKind = 3;

void add_eval(Json& probes, const char* key, const std::string& data, const PipelineStage& s,
              const PipelineProbes& q, const ProbeRunner& r) {
  if (data.empty()) return;
  if (!fs::exists(data)) {
    std::fprintf(stderr, "  note: %s data %s does not exist (skipped)\n", key, data.c_str());
    return;
  }
  std::vector<std::string> a = {"eval", "--model", s.model, "--data", data, "--json"};
  if (fs::is_directory(data)) a.insert(a.end(), {"--split", "val"});
  if (q.eval_tokens > 0) a.insert(a.end(), {"--max-tokens", std::to_string(q.eval_tokens)});
  if (auto j = r.json_of(a); j && j->contains("loss") && (*j)["loss"].is_number())
    probes[key] = (*j)["loss"];
}

void add_summary(Json& probes, const PipelineStage& s) {
  if (s.output.empty()) return;
  const fs::path f = fs::path(s.output) / "summary.json";
  if (!fs::exists(f)) return;
  Json j;
  try {
    j = Json::parse(read_file(f));
  } catch (const std::exception&) {
    std::fprintf(stderr, "  note: %s is not valid JSON (skipped)\n", f.c_str());
    return;
  }
  if (j.contains("task_metric")) {
    const Json& t = j["task_metric"];
    if (t.is_number())
      probes["task_metric"] = {{"name", "task metric"}, {"value", t}};
    else if (t.is_object() && t.contains("value"))
      probes["task_metric"] = t;
  }
  for (const char* k : {"instruct_accuracy", "reward_accuracy", "mean_reward", "kl"})
    if (j.contains(k) && j[k].is_number()) probes[k] = j[k];
  for (const char* k : {"precision", "backend"})
    if (j.contains(k) && j[k].is_string()) probes[k] = j[k];
}

// Held-out accuracy overall and per kind, and a few answers per kind for the report's table.
void add_heldout(Json& probes, const Json& j) {
  probes["instruct_accuracy"] = j["accuracy"];
  if (j.contains("by_kind") && j["by_kind"].is_object()) {
    Json by = Json::object();
    for (const auto& [k, v] : j["by_kind"].items())
      if (v.contains("accuracy")) by[k] = v["accuracy"];
    probes["instruct_accuracy_by_kind"] = by;
  }
  if (j.contains("heldout_answers") && j["heldout_answers"].is_array()) {
    std::map<std::string, int> per;
    Json rows = Json::array();
    for (const auto& h : j["heldout_answers"])
      if (per[h.value("kind", "all")]++ < kHeldoutSamplesPerKind) rows.push_back(h);
    probes["heldout_answers"] = rows;
  }
}

std::string fmt(const Json& v) {
  if (v.is_null()) return "-";
  char buf[64];
  if (v.is_number_float()) {
    std::snprintf(buf, sizeof buf, "%.4g", v.get<double>());
    return buf;
  }
  if (v.is_number()) return v.dump();
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string printable_token(std::string t) {
  std::string o;
  for (char c : t) o += c == '\n' ? std::string("\\n") : std::string(1, c);
  return "\"" + o + "\"";
}

}  // namespace

const PipelineStage* alignment_baseline(const Pipeline& p, size_t i) {
  if (i >= p.stages.size() || !p.stages[i].chat) return nullptr;
  std::string init;
  for (const auto& [k, v] : p.stages[i].options)
    if (k == "init" && v.size() == 1) init = v[0];
  if (init.empty()) return nullptr;
  const fs::path want = fs::path(init).lexically_normal();
  for (size_t j = i; j-- > 0;) {
    const PipelineStage& b = p.stages[j];
    if (b.chat && !b.model.empty() && fs::path(b.model).lexically_normal() == want) return &b;
  }
  return nullptr;
}

Json measure_probes(const PipelineStage& s, const PipelineProbes& q, const ProbeRunner& r,
                    const PipelineStage* baseline) {
  Json probes = Json::object();
  Json samples = Json::array();
  if (s.probes == "none") return {{"probes", probes}, {"samples", samples}};
  add_summary(probes, s);
  if (s.probes == "model") {
    if (!fs::exists(fs::path(s.model) / "config.json")) {
      std::fprintf(stderr, "  note: no model at %s to probe\n", s.model.c_str());
      return {{"probes", probes}, {"samples", samples}};
    }
    if (auto j = r.json_of({"predict", "--model", s.model, "--prompt", q.prompt, "--top",
                            std::to_string(q.top), "--json"});
        j && j->is_array()) {
      Json nw = Json::array();
      for (const auto& e : *j)
        if (e.contains("token") && e.contains("prob"))
          nw.push_back({{"token", e["token"]}, {"prob", e["prob"]}});
      probes["next_word"] = nw;
    }
    add_eval(probes, "general_val_loss", q.general_val, s, q, r);
    add_eval(probes, "domain_val_loss", q.domain_val, s, q, r);
    add_task_probes(probes, s, q, r);  // benchmark tasks (demo/task_probes.h)
    const auto& prompts = s.chat ? q.chat_samples : q.samples;
    std::vector<std::string> a = {"demo", "answer", "--model", s.model, "--json"};
    if (s.chat) a.push_back("--chat");
    for (const auto& p : prompts) a.insert(a.end(), {"--prompt", p});
    // The held-out set is measured the same way on every chat stage (it replaces a stage's own
    // summary value, which instruct measures on its validation conversations).
    const bool want_acc = s.chat && !q.heldout.empty();
    if (want_acc)
      a.insert(a.end(), {"--heldout", q.heldout, "--max", std::to_string(q.heldout_max)});
    // An aligned stage is judged against the model it started from by the same simulated
    // ranker that ranked the samples (the other model's answers cost one more greedy pass).
    const bool want_win =
        want_acc && baseline && fs::exists(fs::path(baseline->model) / "config.json");
    if (want_win) a.insert(a.end(), {"--versus", baseline->model});
    if (!prompts.empty() || want_acc) {
      if (auto j = r.json_of(a); j && j->is_object()) {
        if (j->contains("samples")) samples = (*j)["samples"];
        if (want_acc && j->contains("accuracy") && (*j)["accuracy"].is_number())
          add_heldout(probes, *j);
        if (want_win && j->contains("ranker_win_rate") && (*j)["ranker_win_rate"].is_object()) {
          Json w = {{"versus", baseline->name}};
          for (const auto& [k, v] : (*j)["ranker_win_rate"].items()) w[k] = v;
          probes["ranker_win_rate"] = w;
        }
      }
    }
  }
  return {{"probes", probes}, {"samples", samples}};
}

Json mean_tokens_per_s(const fs::path& metrics) {
  std::ifstream in(metrics);
  if (!in) return nullptr;
  double sum = 0;
  int n = 0;
  std::string line;
  while (std::getline(in, line)) {
    try {
      Json j = Json::parse(line);
      if (j.contains("tokens_per_s") && j["tokens_per_s"].is_number()) {
        const double v = j["tokens_per_s"].get<double>();
        if (std::isfinite(v) && v > 0) sum += v, ++n;
      }
    } catch (const std::exception&) {
    }
  }
  if (n == 0) return nullptr;
  return sum / n;
}

std::string changes_table(const std::string& prev_name, const Json& prev, const std::string& name,
                          const Json& cur) {
  struct Row {
    std::string label, before, after, change;
  };
  std::vector<Row> rows;
  auto top1 = [](const Json& p) -> std::string {
    if (!p.contains("next_word") || p["next_word"].empty()) return "-";
    const Json& t = p["next_word"][0];
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.2f", t["prob"].get<double>());
    return printable_token(t["token"].get<std::string>()) + buf;
  };
  if (cur.contains("next_word") || prev.contains("next_word"))
    rows.push_back({"next word after the prompt", top1(prev), top1(cur), ""});
  auto number = [&](const char* key, const char* label) {
    const Json a = prev.contains(key) ? prev[key] : Json(),
               b = cur.contains(key) ? cur[key] : Json();
    if (a.is_null() && b.is_null()) return;
    std::string change;
    if (a.is_number() && b.is_number()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%+.4g", b.get<double>() - a.get<double>());
      change = buf;
    }
    rows.push_back({label, fmt(a), fmt(b), change});
  };
  number("general_val_loss", "general val loss");
  number("domain_val_loss", "domain val loss");
  {
    auto tm = [](const Json& p) -> Json {
      return p.contains("task_metric") ? p["task_metric"]["value"] : Json();
    };
    Json a = tm(prev), b = tm(cur);
    if (!a.is_null() || !b.is_null()) {
      std::string label = "task metric";
      if (cur.contains("task_metric") && cur["task_metric"].contains("name"))
        label += " (" + fmt(cur["task_metric"]["name"]) + ")";
      std::string change;
      if (a.is_number() && b.is_number()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%+.4g", b.get<double>() - a.get<double>());
        change = buf;
      }
      rows.push_back({label, fmt(a), fmt(b), change});
    }
  }
  number("instruct_accuracy", "held-out instruction accuracy");
  {
    std::set<std::string> kinds;
    for (const Json* p : {&prev, &cur})
      if (p->contains("instruct_accuracy_by_kind"))
        for (const auto& [k, v] : (*p)["instruct_accuracy_by_kind"].items()) kinds.insert(k);
    for (const auto& k : kinds) {
      auto at = [&](const Json& p) -> Json {
        return p.contains("instruct_accuracy_by_kind") && p["instruct_accuracy_by_kind"].contains(k)
                   ? p["instruct_accuracy_by_kind"][k]
                   : Json();
      };
      const Json a = at(prev), b = at(cur);
      std::string change;
      if (a.is_number() && b.is_number()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%+.4g", b.get<double>() - a.get<double>());
        change = buf;
      }
      rows.push_back({"  " + k, fmt(a), fmt(b), change});
    }
  }
  if (cur.contains("ranker_win_rate") && cur["ranker_win_rate"].is_object()) {
    const Json& w = cur["ranker_win_rate"];
    char buf[160];
    const Json rate = w.value("win_rate", Json());
    std::snprintf(buf, sizeof buf, "%s (%d won, %d lost, %d tied; %d of %d differ)",
                  rate.is_number() ? (fmt(rate.get<double>() * 100) + "%").c_str() : "-",
                  w.value("wins", 0), w.value("losses", 0), w.value("ties", 0),
                  w.value("differ", 0), w.value("prompts", 0));
    rows.push_back(
        {"ranker win rate vs " + w.value("versus", std::string("baseline")), "", buf, ""});
  }
  number("reward_accuracy", "reward model accuracy");
  number("mean_reward", "policy mean reward");
  number("kl", "KL to reference");
  for (auto& t : task_change_rows(prev, cur)) rows.push_back({t[0], t[1], t[2], t[3]});
  if (rows.empty()) return "";
  size_t w0 = 5, w1 = prev_name.size(), w2 = name.size();
  for (const auto& r : rows) {
    w0 = std::max(w0, r.label.size());
    w1 = std::max(w1, r.before.size());
    w2 = std::max(w2, r.after.size());
  }
  std::ostringstream o;
  auto line = [&](const std::string& a, const std::string& b, const std::string& c,
                  const std::string& d) {
    o << "     " << a << std::string(w0 - a.size() + 2, ' ') << b
      << std::string(w1 - b.size() + 2, ' ') << c << std::string(w2 - c.size() + 2, ' ') << d
      << "\n";
  };
  line("probe", prev_name, name, "change");
  for (const auto& r : rows) line(r.label, r.before, r.after, r.change);
  return o.str();
}

}  // namespace lmforge::pipeline_detail
