// Pipeline YAML: parsing with yaml-cpp, ${VAR} substitution, argument vectors and the resolved
// YAML written next to a run (see demo/pipeline.h). Running lives in pipeline_runner.cpp.
#include "lmforge/demo/pipeline.h"

#include <yaml-cpp/yaml.h>

#include <set>
#include <sstream>

#include "lmforge/core/error.h"
#include "lmforge/demo/task_probes.h"

namespace lmforge {
namespace {

int line_of(const YAML::Node& n) {
  return n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
}

struct Ctx {
  const std::string& file;
  const std::map<std::string, std::string>& vars;

  std::string str(const YAML::Node& n, const std::string& field) const {
    if (!n.IsScalar())
      throw InputError(file, line_of(n), field, "expected a string or number", "quote the value");
    return substitute_vars(n.Scalar(), vars, file, line_of(n), field);
  }
  std::vector<std::string> str_list(const YAML::Node& n, const std::string& field) const {
    std::vector<std::string> out;
    if (n.IsScalar()) return {str(n, field)};
    if (!n.IsSequence()) throw InputError(file, line_of(n), field, "expected a list of strings");
    for (size_t i = 0; i < n.size(); ++i)
      out.push_back(str(n[i], field + "[" + std::to_string(i) + "]"));
    return out;
  }
  bool boolean(const YAML::Node& n, const std::string& field) const {
    const std::string s = str(n, field);
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    throw InputError(file, line_of(n), field, "expected true or false, got '" + s + "'");
  }
  int64_t integer(const YAML::Node& n, const std::string& field) const {
    const std::string s = str(n, field);
    try {
      size_t used = 0;
      int64_t v = std::stoll(s, &used);
      if (used == s.size()) return v;
    } catch (const std::exception&) {
    }
    throw InputError(file, line_of(n), field, "expected an integer, got '" + s + "'");
  }
  void known_keys(const YAML::Node& map, const std::set<std::string>& keys,
                  const std::string& where) const {
    for (const auto& kv : map) {
      const std::string k = kv.first.Scalar();
      if (!keys.count(k)) {
        std::string list;
        for (const auto& x : keys) list += (list.empty() ? "" : ", ") + x;
        throw InputError(file, line_of(kv.first), where + k, "unknown key", "known keys: " + list);
      }
    }
  }
};

bool is_training_command(const std::vector<std::string>& cmd) {
  static const std::set<std::string> t = {"pretrain", "finetune", "instruct",
                                          "reward",   "ppo",      "dpo"};
  return cmd.size() == 1 && t.count(cmd[0]);
}

std::string default_done_marker(const PipelineStage& s) {
  if (s.output.empty()) return "";
  const std::filesystem::path o = s.output;
  if (s.command == std::vector<std::string>{"tokenizer", "train"})
    return (o / "tokenizer.json").string();
  if (s.command == std::vector<std::string>{"prepare"} ||
      s.command == std::vector<std::string>{"demo", "data"})
    return (o / "manifest.json").string();
  if (s.command == std::vector<std::string>{"demo", "rank"}) return o.string();  // a file
  return (o / "final" / "config.json").string();
}

}  // namespace

std::string substitute_vars(const std::string& s, const std::map<std::string, std::string>& vars,
                            const std::string& file, int line, const std::string& field) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 2, "${") == 0) {
      size_t e = s.find('}', i + 2);
      if (e == std::string::npos) throw InputError(file, line, field, "unclosed ${ in '" + s + "'");
      const std::string name = s.substr(i + 2, e - i - 2);
      auto it = vars.find(name);
      if (it == vars.end()) {
        std::string known;
        for (const auto& [k, v] : vars) known += (known.empty() ? "" : ", ") + k;
        throw InputError(file, line, field, "unknown variable ${" + name + "}",
                         "known: " + known + "; define more with --var NAME=VALUE");
      }
      out += it->second;
      i = e + 1;
    } else {
      out += s[i++];
    }
  }
  return out;
}

Pipeline parse_pipeline(const std::string& yaml_text, const std::string& file,
                        const std::map<std::string, std::string>& vars) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw InputError(file, e.mark.line + 1, "", "invalid YAML: " + e.msg);
  }
  if (!root.IsMap()) throw InputError(file, 1, "", "expected a mapping with a 'stages' list");
  Ctx c{file, vars};
  c.known_keys(root, {"title", "simulated_ranker", "probes", "stages"}, "");
  Pipeline p;
  if (root["title"]) p.title = c.str(root["title"], "title");
  if (root["simulated_ranker"] && !root["simulated_ranker"].IsNull())
    p.simulated_ranker = c.str(root["simulated_ranker"], "simulated_ranker");
  if (const YAML::Node pr = root["probes"]) {
    if (!pr.IsMap()) throw InputError(file, line_of(pr), "probes", "expected a mapping");
    c.known_keys(pr,
                 {"prompt", "top", "general_val", "domain_val", "eval_tokens", "samples",
                  "chat_samples", "heldout", "heldout_max", "tasks"},
                 "probes.");
    PipelineProbes& q = p.probes;
    if (pr["prompt"]) q.prompt = c.str(pr["prompt"], "probes.prompt");
    if (pr["top"]) q.top = int(c.integer(pr["top"], "probes.top"));
    if (pr["general_val"]) q.general_val = c.str(pr["general_val"], "probes.general_val");
    if (pr["domain_val"]) q.domain_val = c.str(pr["domain_val"], "probes.domain_val");
    if (pr["heldout"]) q.heldout = c.str(pr["heldout"], "probes.heldout");
    if (pr["eval_tokens"]) q.eval_tokens = c.integer(pr["eval_tokens"], "probes.eval_tokens");
    if (pr["heldout_max"]) q.heldout_max = int(c.integer(pr["heldout_max"], "probes.heldout_max"));
    if (pr["samples"]) q.samples = c.str_list(pr["samples"], "probes.samples");
    if (pr["chat_samples"]) q.chat_samples = c.str_list(pr["chat_samples"], "probes.chat_samples");
    if (pr["tasks"]) q.tasks = parse_task_probes(pr["tasks"], file, vars);  // demo/task_probes.h
  }
  const YAML::Node st = root["stages"];
  if (!st || !st.IsSequence() || st.size() == 0)
    throw InputError(file, st ? line_of(st) : 1, "stages", "expected a non-empty list of stages");
  std::set<std::string> names;
  for (size_t i = 0; i < st.size(); ++i) {
    const YAML::Node n = st[i];
    const std::string where = "stages[" + std::to_string(i) + "].";
    if (!n.IsMap()) throw InputError(file, line_of(n), where, "expected a mapping");
    c.known_keys(
        n, {"name", "title", "what", "command", "options", "probes", "chat", "model", "done_when"},
        where);
    PipelineStage s;
    s.line = line_of(n);
    if (!n["name"] || !n["command"])
      throw InputError(file, s.line, where + (n["name"] ? "command" : "name"), "missing",
                       "each stage needs a name and a command");
    s.name = c.str(n["name"], where + "name");
    if (!names.insert(s.name).second)
      throw InputError(file, s.line, where + "name", "duplicate stage name '" + s.name + "'");
    s.title = n["title"] ? c.str(n["title"], where + "title") : s.name;
    s.what = n["what"] ? c.str(n["what"], where + "what") : "";
    std::istringstream words(c.str(n["command"], where + "command"));
    for (std::string w; words >> w;) {
      if (w == "lmforge" && s.command.empty()) continue;  // "lmforge pretrain" is fine too
      s.command.push_back(w);
    }
    if (s.command.empty()) throw InputError(file, s.line, where + "command", "empty command");
    if (const YAML::Node o = n["options"]) {
      if (!o.IsMap()) throw InputError(file, line_of(o), where + "options", "expected a mapping");
      for (const auto& kv : o) {
        std::string key = kv.first.Scalar();
        if (key.rfind("--", 0) == 0) key = key.substr(2);
        const std::string f = where + "options." + key;
        if (kv.second.IsNull()) continue;
        if (kv.second.IsScalar() &&
            (kv.second.Scalar() == "true" || kv.second.Scalar() == "false")) {
          if (kv.second.Scalar() == "true") s.options.push_back({key, {}});
          continue;
        }
        s.options.push_back({key, c.str_list(kv.second, f)});
        if (key == "output" && !s.options.back().second.empty())
          s.output = s.options.back().second.front();
      }
    }
    s.chat = n["chat"] ? c.boolean(n["chat"], where + "chat") : false;
    s.probes = n["probes"] ? c.str(n["probes"], where + "probes")
                           : (is_training_command(s.command) ? "model" : "none");
    if (s.probes != "model" && s.probes != "summary" && s.probes != "none")
      throw InputError(file, line_of(n["probes"]), where + "probes",
                       "expected model, summary or none, got '" + s.probes + "'");
    if (n["model"])
      s.model = c.str(n["model"], where + "model");
    else if (s.probes == "model" && !s.output.empty())
      s.model = (std::filesystem::path(s.output) / "final").string();
    if (s.probes == "model" && s.model.empty())
      throw InputError(file, s.line, where + "model", "no model to probe",
                       "give the stage an output option or a model path, or set probes: none");
    s.done_when =
        n["done_when"] ? c.str(n["done_when"], where + "done_when") : default_done_marker(s);
    p.stages.push_back(std::move(s));
  }
  return p;
}

std::vector<std::string> stage_args(const PipelineStage& stage) {
  std::vector<std::string> a = stage.command;
  for (const auto& [k, vs] : stage.options) {
    a.push_back("--" + k);
    for (const auto& v : vs) a.push_back(v);
  }
  return a;
}

std::string shell_command(const std::vector<std::string>& args) {
  std::string out = "lmforge";
  for (const auto& a : args) {
    bool plain = !a.empty();
    for (char c : a)
      if (!(std::isalnum((unsigned char)c) ||
            std::string_view("-_./=:,+@%").find(c) != std::string_view::npos))
        plain = false;
    if (plain) {
      out += " " + a;
    } else {
      std::string q = "'";
      for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += " " + q + "'";
    }
  }
  return out;
}

std::string pipeline_yaml(const Pipeline& p) {
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "title" << YAML::Value << p.title;
  if (p.simulated_ranker)
    e << YAML::Key << "simulated_ranker" << YAML::Value << *p.simulated_ranker;
  const PipelineProbes& q = p.probes;
  e << YAML::Key << "probes" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "prompt" << YAML::Value << q.prompt << YAML::Key << "top" << YAML::Value
    << q.top;
  if (!q.general_val.empty()) e << YAML::Key << "general_val" << YAML::Value << q.general_val;
  if (!q.domain_val.empty()) e << YAML::Key << "domain_val" << YAML::Value << q.domain_val;
  e << YAML::Key << "eval_tokens" << YAML::Value << q.eval_tokens;
  if (!q.samples.empty()) e << YAML::Key << "samples" << YAML::Value << q.samples;
  if (!q.chat_samples.empty()) e << YAML::Key << "chat_samples" << YAML::Value << q.chat_samples;
  if (!q.heldout.empty())
    e << YAML::Key << "heldout" << YAML::Value << q.heldout << YAML::Key << "heldout_max"
      << YAML::Value << q.heldout_max;
  emit_task_probes(e, q.tasks);  // demo/task_probes.h
  e << YAML::EndMap << YAML::Key << "stages" << YAML::Value << YAML::BeginSeq;
  for (const auto& s : p.stages) {
    std::string cmd;
    for (const auto& w : s.command) cmd += (cmd.empty() ? "" : " ") + w;
    e << YAML::BeginMap << YAML::Key << "name" << YAML::Value << s.name << YAML::Key << "title"
      << YAML::Value << s.title << YAML::Key << "what" << YAML::Value << s.what << YAML::Key
      << "command" << YAML::Value << cmd << YAML::Key << "options" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, vs] : s.options) {
      e << YAML::Key << k << YAML::Value;
      if (vs.empty())
        e << true;
      else if (vs.size() == 1)
        e << vs[0];
      else
        e << YAML::Flow << vs;
    }
    e << YAML::EndMap << YAML::Key << "probes" << YAML::Value << s.probes;
    if (s.chat) e << YAML::Key << "chat" << YAML::Value << true;
    if (!s.model.empty()) e << YAML::Key << "model" << YAML::Value << s.model;
    if (!s.done_when.empty()) e << YAML::Key << "done_when" << YAML::Value << s.done_when;
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace lmforge
