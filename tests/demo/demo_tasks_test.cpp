// The demo's multiple-choice benchmark (demo/demo_tasks.h) and the `tasks:` probe list
// (demo/task_probes.h): rows readable as a multiple-choice task with the right answer among four
// distinct choices, deterministic for a seed; tasks: entries parsed (path or map), emitted back,
// refused with file, line and field; benchmark scores of state.json on the report card.
#include "lmforge/demo/demo_tasks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/demo/task_probes.h"
#include "lmforge/eval/task.h"

using namespace lmforge;
namespace fs = std::filesystem;

namespace {
fs::path make_data() {
  const fs::path d = fs::temp_directory_path() / ("lmforge-demotasks-" + std::to_string(getpid()));
  fs::create_directories(d / "task");
  const char* words[][2] = {
      {"the house", "das Haus"}, {"the dog", "der Hund"}, {"the street", "die Straße"},
      {"the cat", "die Katze"},  {"for", "für"},          {"the tree", "der Baum"}};
  std::string rows;
  for (auto& w : words)
    rows += std::string("{\"prompt\": \"English: ") + w[0] + "\\nGerman:\", \"completion\": \" " +
            w[1] + "\"}\n";
  write_file_atomic(d / "task/val.jsonl", rows);
  write_file_atomic(d / "task/train.jsonl", rows);
  return d;
}
}  // namespace

TEST(DemoTasks, FourDistinctChoicesWithTheRightOne) {
  const fs::path d = make_data();
  DemoTasksOptions o;
  o.data = d;
  o.output = d / "tasks";
  DemoTasksSummary s = build_demo_tasks(o);
  EXPECT_EQ(s.rows, 6);
  Task t = read_task(d / "tasks/en_de_mc.jsonl");
  ASSERT_EQ(t.kind, TaskKind::kMultipleChoice);
  ASSERT_EQ(t.rows.size(), 6u);
  EXPECT_EQ(t.rows[0].text, "English: the house\nGerman:");
  EXPECT_EQ(t.rows[0].target(), "das Haus");
  EXPECT_EQ(t.rows[4].target(), "für");
  for (const auto& r : t.rows) {
    ASSERT_EQ(r.choices.size(), 4u);
    auto c = r.choices;
    std::sort(c.begin(), c.end());
    EXPECT_EQ(std::unique(c.begin(), c.end()), c.end());
  }
  const std::string first = read_file(d / "tasks/en_de_mc.jsonl");
  build_demo_tasks(o);
  EXPECT_EQ(read_file(d / "tasks/en_de_mc.jsonl"), first);  // same seed, same file
  EXPECT_TRUE(fs::exists(d / "tasks/manifest.json"));
  o.data = d / "missing";
  EXPECT_THROW(build_demo_tasks(o), InputError);
  fs::remove_all(d);
}

TEST(TaskProbes, ParsedEmittedAndRefused) {
  const std::string y = R"(probes:
  tasks:
    - ${DIR}/a.jsonl
    - {path: b.jsonl, name: bee, num_fewshot: 2, limit: 50}
stages:
  - {name: s, command: eval, probes: none}
)";
  Pipeline p = parse_pipeline(y, "p.yaml", {{"DIR", "/x"}});
  ASSERT_EQ(p.probes.tasks.size(), 2u);
  EXPECT_EQ(p.probes.tasks[0].path, "/x/a.jsonl");
  EXPECT_EQ(p.probes.tasks[0].name, "a");
  EXPECT_EQ(p.probes.tasks[1].name, "bee");
  EXPECT_EQ(p.probes.tasks[1].num_fewshot, 2);
  EXPECT_EQ(p.probes.tasks[1].limit, 50);
  Pipeline again = parse_pipeline(pipeline_yaml(p), "again", {});
  ASSERT_EQ(again.probes.tasks.size(), 2u);
  EXPECT_EQ(again.probes.tasks[1].limit, 50);
  try {
    parse_pipeline(
        "probes:\n  tasks:\n    - {path: a, shots: 3}\nstages:\n  - {name: s, command: eval, "
        "probes: none}\n",
        "bad.yaml", {});
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "bad.yaml");
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.field(), "probes.tasks[0].shots");
  }
}

TEST(TaskProbes, ReportCardShowsBenchmarkScores) {
  demo::RunState st;
  demo::StageState a, b;
  a.name = "pretrain", a.title = "Pretraining";
  b.name = "instruct", b.title = "Instruction tuning";
  a.probes.benchmarks = demo::parse_benchmarks(nlohmann::json::parse(
      R"({"tasks": {"en-de-mc": {"metric": "acc_norm", "value": 0.25, "stderr": 0.0306, "rows": 200}}})"));
  b.probes.benchmarks = demo::parse_benchmarks(nlohmann::json::parse(
      R"({"tasks": {"en-de-mc": {"metric": "acc_norm", "value": 0.62, "stderr": 0.0343, "rows": 200}}})"));
  st.stages = {a, b};
  const std::string md = demo::benchmarks_markdown(st);
  EXPECT_NE(md.find("| Stage | en-de-mc (acc_norm) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| Pretraining | 25.0% \u00b1 3.1% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| Instruction tuning | 62.0% \u00b1 3.4% |"), std::string::npos) << md;
  EXPECT_NE(demo::benchmarks_html(st).find("62.0% \u00b1 3.4%"), std::string::npos);
  EXPECT_EQ(demo::benchmarks_markdown(demo::RunState{}), "");
}
