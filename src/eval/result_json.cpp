// Rendering task results (eval/evaluate.h) as JSON and as the plain-text table the CLI prints.
#include <cmath>
#include <cstdio>

#include "lmforge/eval/evaluate.h"

namespace lmforge {

namespace {
nlohmann::ordered_json number(double v) {
  if (std::isfinite(v)) return v;
  return nullptr;
}
}  // namespace

nlohmann::ordered_json task_result_json(const TaskResult& r) {
  nlohmann::ordered_json m = nlohmann::ordered_json::object();
  for (const auto& v : r.metrics)
    m[v.name] = {{"value", number(v.value)},
                 {"stderr", number(v.stderr_)},
                 {"stderr_method", v.stderr_method}};
  return {{"name", r.name},
          {"file", r.file},
          {"kind", task_kind_name(r.kind)},
          {"rows", r.rows},
          {"num_fewshot", r.num_fewshot},
          {"seconds", r.seconds},
          {"rows_per_s", r.seconds > 0 ? number(double(r.rows) / r.seconds) : nullptr},
          {"primary", r.primary().name},
          {"metrics", m}};
}

nlohmann::ordered_json row_result_json(const TaskResult& r, const RowResult& d) {
  nlohmann::ordered_json j = {{"line", d.line}};
  switch (r.kind) {
    case TaskKind::kMultipleChoice: {
      nlohmann::ordered_json lls = nlohmann::ordered_json::array();
      for (double x : d.lls) lls.push_back(x);
      j["context_ids"] = d.context_ids;
      j["continuation_ids"] = d.continuation_ids;
      j["lls"] = lls;
      j["greedy"] = d.greedy;
      j["pred"] = d.pred;
      j["pred_norm"] = d.pred_norm;
      j["acc"] = d.acc;
      j["acc_norm"] = d.acc_norm;
      break;
    }
    case TaskKind::kGeneration:
      j["response"] = d.response;
      j["extracted"] = d.extracted;
      j["exact_match"] = d.exact_match;
      break;
    case TaskKind::kPerplexity:
      j["ll"] = d.doc.ll;
      j["tokens"] = d.doc.tokens;
      j["words"] = d.doc.words;
      j["bytes"] = d.doc.bytes;
      break;
  }
  return j;
}

std::string task_result_text(const TaskResult& r) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "task %s (%s, %lld rows, %d-shot, %.2f s, %.1f rows/s)\n",
                r.name.c_str(), task_kind_name(r.kind), (long long)r.rows, r.num_fewshot, r.seconds,
                r.seconds > 0 ? double(r.rows) / r.seconds : 0.0);
  std::string out = buf;
  for (const auto& m : r.metrics) {
    std::snprintf(buf, sizeof buf, "  %-16s %.4f ± %.4f  (%s)\n", m.name.c_str(), m.value,
                  m.stderr_, m.stderr_method.c_str());
    out += buf;
  }
  return out;
}

}  // namespace lmforge
