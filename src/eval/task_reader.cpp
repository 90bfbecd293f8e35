// Reading benchmark task files (eval/task.h): field aliases, gold labels in the shapes the
// harness's datasets carry them (an index, a numeric string, a letter, ARC's labels, the choice
// text itself, a list), and few-shot contexts. Every bad row is an InputError with file, line and
// field. Not here: tokenization or scoring.
#include <algorithm>

#include "lmforge/core/error.h"
#include "lmforge/data/jsonl.h"
#include "lmforge/eval/python_random.h"
#include "lmforge/eval/task.h"

namespace lmforge {
namespace {
using nlohmann::json;

const std::vector<std::string> kContextKeys = {"context", "query", "question", "ctx",
                                               "prompt",  "input", "text"};
const std::vector<std::string> kChoiceKeys = {"choices", "endings", "options"};
const std::vector<std::string> kGoldKeys = {"gold", "label", "answer", "answerKey"};
const std::vector<std::string> kAnswerKeys = {"answer", "answers", "target", "output",
                                              "completion"};
const std::vector<std::string> kTextKeys = {"text", "page", "document"};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The first of `keys` present (and not null) in obj, or "".
std::string find_key(const json& obj, const std::vector<std::string>& keys) {
  for (const auto& k : keys)
    if (obj.contains(k) && !obj[k].is_null()) return k;
  return "";
}

std::string required_text(const json& obj, const std::vector<std::string>& keys,
                          const JsonlLocation& at) {
  const std::string k = find_key(obj, keys);
  if (k.empty()) at.fail(keys[0], "missing (any of: " + join(keys) + ")");
  return at.expect_string(obj[k], k);
}

void read_choices(const json& obj, const std::string& key, TaskRow& r,
                  std::vector<std::string>& labels, const JsonlLocation& at) {
  const json* list = &obj[key];
  std::string path = key;
  if (list->is_object()) {  // ARC: {"text": [...], "label": ["A", ...]}
    if (!list->contains("text")) at.fail(key + ".text", "missing");
    const json& lab = (*list).contains("label") ? (*list)["label"] : json();
    if (lab.is_array())
      for (size_t i = 0; i < lab.size(); ++i)
        labels.push_back(lab[i].is_string() ? lab[i].get<std::string>() : lab[i].dump());
    list = &(*list)["text"];
    path = key + ".text";
  }
  if (!list->is_array()) at.fail(path, "expected a list of strings, got " + describe_json(*list));
  if (list->empty()) at.fail(path, "expected at least one choice, got none");
  for (size_t i = 0; i < list->size(); ++i)
    r.choices.push_back(at.expect_string((*list)[i], path + "[" + std::to_string(i) + "]"));
  if (!labels.empty() && labels.size() != r.choices.size())
    at.fail(key + ".label", "has " + std::to_string(labels.size()) + " labels for " +
                                std::to_string(r.choices.size()) + " choices");
}

int gold_index(const json& v, const TaskRow& r, const std::vector<std::string>& labels,
               const std::string& field, const JsonlLocation& at) {
  const int n = (int)r.choices.size();
  auto in_range = [&](int64_t i) {
    if (i < 0 || i >= n)
      at.fail(field, "index " + std::to_string(i) + " outside 0.." + std::to_string(n - 1) + " (" +
                         std::to_string(n) + " choices)");
    return (int)i;
  };
  if (v.is_number_integer()) return in_range(v.get<int64_t>());
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == s) return (int)i;
    if (!s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), ::isdigit))
      return in_range(std::stoll(s));
    for (int i = 0; i < n; ++i)
      if (r.choices[i] == s) return i;
    if (s.size() == 1 && s[0] >= 'A' && s[0] <= 'Z') return in_range(s[0] - 'A');
    at.fail(field, "'" + s + "' is neither an index, a letter, a choice label nor a choice's text");
  }
  at.fail(field, "expected an index, a label or a list of them, got " + describe_json(v));
}

TaskRow read_row(const json& obj, TaskKind kind, const JsonlLocation& at) {
  TaskRow r;
  r.line = at.line;
  if (kind == TaskKind::kPerplexity) {
    r.text = required_text(obj, kTextKeys, at);
    return r;
  }
  r.text = required_text(obj, kContextKeys, at);
  if (kind == TaskKind::kMultipleChoice) {
    const std::string ck = find_key(obj, kChoiceKeys);
    if (ck.empty()) at.fail("choices", "missing (any of: " + join(kChoiceKeys) + ")");
    std::vector<std::string> labels;
    read_choices(obj, ck, r, labels, at);
    const std::string gk = find_key(obj, kGoldKeys);
    if (gk.empty()) at.fail("gold", "missing (any of: " + join(kGoldKeys) + ")");
    const json& g = obj[gk];
    if (g.is_array()) {
      if (g.empty()) at.fail(gk, "expected at least one gold index, got []");
      for (size_t i = 0; i < g.size(); ++i)
        r.gold.push_back(gold_index(g[i], r, labels, gk + "[" + std::to_string(i) + "]", at));
    } else {
      r.gold.push_back(gold_index(g, r, labels, gk, at));
    }
    return r;
  }
  const std::string ak = find_key(obj, kAnswerKeys);
  if (ak.empty()) at.fail("answer", "missing (any of: " + join(kAnswerKeys) + ")");
  const json& a = obj[ak];
  auto one = [&](const json& v, const std::string& field) {
    if (v.is_number()) return v.dump();
    return at.expect_string(v, field);
  };
  if (a.is_array()) {
    if (a.empty()) at.fail(ak, "expected at least one answer, got []");
    for (size_t i = 0; i < a.size(); ++i)
      r.answers.push_back(one(a[i], ak + "[" + std::to_string(i) + "]"));
  } else {
    r.answers.push_back(one(a, ak));
  }
  return r;
}

TaskKind infer_kind(const json& obj, const JsonlLocation& at) {
  if (!find_key(obj, kChoiceKeys).empty()) return TaskKind::kMultipleChoice;
  if (!find_key(obj, kAnswerKeys).empty()) return TaskKind::kGeneration;
  if (!find_key(obj, kTextKeys).empty()) return TaskKind::kPerplexity;
  at.fail("", "cannot tell the task kind from this row's fields",
          "multiple choice rows have choices, generation rows an answer, perplexity rows only "
          "text; or pass --task-kind");
}

}  // namespace

const char* task_kind_name(TaskKind k) {
  switch (k) {
    case TaskKind::kMultipleChoice:
      return "multiple_choice";
    case TaskKind::kGeneration:
      return "generation";
    case TaskKind::kPerplexity:
      return "perplexity";
  }
  return "?";
}

TaskKind parse_task_kind(const std::string& s) {
  if (s == "multiple_choice" || s == "mc") return TaskKind::kMultipleChoice;
  if (s == "generation" || s == "generate_until") return TaskKind::kGeneration;
  if (s == "perplexity" || s == "loglikelihood_rolling") return TaskKind::kPerplexity;
  throw UsageError("unknown task kind '" + s + "' (multiple_choice, generation, perplexity)");
}

Task read_task(const std::filesystem::path& file, std::optional<TaskKind> kind, int64_t limit) {
  Task t;
  t.file = file.string();
  t.name = file.stem().string();
  JsonlReader in(file);
  json obj;
  while (in.next(obj)) {
    if (!kind) kind = infer_kind(obj, in.location());
    t.rows.push_back(read_row(obj, *kind, in.location()));
    if (limit > 0 && (int64_t)t.rows.size() >= limit) break;
  }
  if (t.rows.empty())
    throw InputError(t.file, 0, "", "no rows", "a task file holds one JSON object per line");
  t.kind = *kind;
  return t;
}

std::vector<std::string> build_contexts(const Task& task, const Task* fewshot,
                                        const PromptOptions& opt) {
  const int K = opt.num_fewshot;
  if (K < 0) throw UsageError("--num-fewshot must be >= 0");
  if (K > 0 && task.kind == TaskKind::kPerplexity)
    throw UsageError("perplexity tasks take no few-shot examples (--num-fewshot 0)");
  const Task& pool = fewshot ? *fewshot : task;
  const bool same = !fewshot;
  if (K > 0 && (int64_t)pool.rows.size() < K + (same ? 1 : 0))
    throw UsageError("--num-fewshot " + std::to_string(K) + " needs " +
                     std::to_string(K + (same ? 1 : 0)) + " rows in " + pool.file + ", it has " +
                     std::to_string(pool.rows.size()));
  if (fewshot && fewshot->kind != task.kind)
    throw UsageError("few-shot file " + fewshot->file + " is " + task_kind_name(fewshot->kind) +
                     ", the task " + task_kind_name(task.kind));
  // One generator for the task, drawing in row order: the harness's sampler
  // (random.Random(fewshot_random_seed).sample(docs, k)), reproduced exactly.
  PythonRandom rng(opt.seed);
  std::vector<std::string> out;
  out.reserve(task.rows.size());
  for (size_t r = 0; r < task.rows.size(); ++r) {
    std::string ctx = opt.description;
    if (K > 0) {
      // From the task itself: K + 1 drawn and the row itself dropped if among them, as the
      // harness does.
      const std::vector<size_t> idx = rng.sample(pool.rows.size(), (size_t)K + (same ? 1 : 0));
      int used = 0;
      for (size_t i = 0; i < idx.size() && used < K; ++i) {
        if (same && idx[i] == r) continue;
        const TaskRow& ex = pool.rows[idx[i]];
        ctx += ex.text + opt.target_delimiter + ex.target() + opt.fewshot_delimiter;
        ++used;
      }
    }
    out.push_back(ctx + task.rows[r].text);
  }
  return out;
}

}  // namespace lmforge
