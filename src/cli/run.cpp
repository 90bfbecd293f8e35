// `lmforge run PIPELINE.yaml --output DIR`: option parsing only; the runner is run_pipeline()
// (demo/pipeline.h), which runs each stage as a child `lmforge` process, probes its model and
// keeps DIR/state.json.
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/output_guard.h"
#include "lmforge/demo/pipeline.h"

namespace lmforge::cli {
namespace {

struct Opts {
  std::string pipeline, output, data;
  std::vector<std::string> vars;
  bool no_report = false;
};

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(
      root, "run",
      "Run a pipeline file: its stages in order as lmforge commands, skipping stages already "
      "done (an interrupted run resumes), probing each stage's model and writing "
      "DIR/state.json and the report card");
  auto o = std::make_shared<Opts>();
  cmd->add_option("pipeline", o->pipeline,
                  "pipeline YAML (see docs/DEMO.md and "
                  "examples/demo_pipeline.yaml)")
      ->required();
  cmd->add_option("--output", o->output,
                  "run directory: pipeline.yaml, state.json, logs/, report.html and the stages' "
                  "outputs when they use ${DIR}")
      ->required();
  cmd->add_option("--data", o->data, "value of ${DATA} in the pipeline (default: OUTPUT/data)");
  cmd->add_option("--var", o->vars, "NAME=VALUE: defines ${NAME} in the pipeline (repeatable)");
  cmd->add_flag("--no-report", o->no_report, "do not call `lmforge report` after each stage");
  cmd->callback([cmd, o] {
    print_resolved_config(*cmd);
    // A workspace: each stage (a child lmforge) checks its own output inside it.
    const std::filesystem::path dir = std::filesystem::absolute(check_output(
        {"--output", o->output, OutputSpec::Kind::kDir, {"*"}, {}, {}, "a pipeline run directory"},
        {}));
    std::map<std::string, std::string> vars = {
        {"DIR", dir.string()},
        {"DATA",
         o->data.empty() ? (dir / "data").string() : std::filesystem::absolute(o->data).string()}};
    for (const auto& v : o->vars) {
      const size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0)
        throw UsageError("--var expects NAME=VALUE, got '" + v + "'");
      vars[v.substr(0, eq)] = v.substr(eq + 1);
    }
    Pipeline p = parse_pipeline(read_file(o->pipeline), o->pipeline, vars);
    RunPipelineOptions ro;
    ro.output = dir;
    ro.report = !o->no_report;
    run_pipeline(p, ro);
  });
}

const bool registered = register_command(190, setup);

}  // namespace
}  // namespace lmforge::cli
