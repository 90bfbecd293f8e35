// Benchmark tasks as pipeline probes: the `tasks:` list of a pipeline file (parse and emit), the
// measurement on each probed model (a child `lmforge eval --task ... --json`, stored in
// state.json as probes.tasks = {NAME: {metric, value, stderr, rows, metrics}}), its rows in the
// "what changed" table, and the report card's benchmark table per stage.
// Not here: scoring (eval/evaluate.h), the other probes (pipeline_probes.cpp).
#pragma once
#include <yaml-cpp/yaml.h>

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmforge/demo/pipeline.h"
#include "lmforge/demo/report.h"

namespace lmforge {

// probes.tasks: a list of paths or {path, name, num_fewshot, limit} maps. InputError naming the
// file, line and field for anything else.
std::vector<TaskProbe> parse_task_probes(const YAML::Node& node, const std::string& file,
                                         const std::map<std::string, std::string>& vars);
// Writes `tasks:` into the probes map being emitted (nothing when empty).
void emit_task_probes(YAML::Emitter& e, const std::vector<TaskProbe>& tasks);

namespace pipeline_detail {
class ProbeRunner;
// Scores every task on the stage's model into probes["tasks"]; a task whose file is missing or
// whose command fails is skipped with a notice.
void add_task_probes(nlohmann::ordered_json& probes, const PipelineStage& stage,
                     const PipelineProbes& q, const ProbeRunner& runner);
// Rows {label, before, after, change} for the "what changed" table.
std::vector<std::array<std::string, 4>> task_change_rows(const nlohmann::ordered_json& prev,
                                                         const nlohmann::ordered_json& cur);
}  // namespace pipeline_detail

namespace demo {
// probes.tasks of state.json (entries of the wrong shape are skipped).
std::vector<BenchmarkScore> parse_benchmarks(const nlohmann::json& probes);
// The report card's "Benchmarks per stage" table: one column per task, value ± stderr; "" when
// no stage has a benchmark score.
std::string benchmarks_markdown(const RunState& state);
std::string benchmarks_html(const RunState& state);
}  // namespace demo

}  // namespace lmforge
