// `lmforge demo tasks`: builds the demo's multiple-choice benchmark (demo/demo_tasks.h) from the
// demo data. Option parsing and printing only; registered under `demo` (src/cli/demo.cpp).
#include "lmforge/demo/demo_tasks.h"

#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "lmforge/core/output_guard.h"

namespace lmforge::cli {
namespace {

void setup(CLI::App& root) {
  CLI::App* demo = nullptr;
  try {
    demo = root.get_subcommand("demo");
  } catch (const CLI::OptionNotFound&) {
    return;  // no demo command in this build
  }
  CLI::App* cmd = add_command(*demo, "tasks",
                              "Build the demo's multiple-choice benchmark (pick the German "
                              "translation among four) from `lmforge demo data`'s held-out pairs");
  auto o = std::make_shared<DemoTasksOptions>();
  auto data = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  cmd->add_option("--data", *data, "the directory `lmforge demo data` wrote")->required();
  cmd->add_option("--output", *out, "directory for the task files")->required();
  cmd->add_option("--seed", o->seed, "seed of the distractors and the choice order");
  cmd->add_option("--max-rows", o->max_rows, "questions at most")->check(CLI::PositiveNumber);
  cmd->add_option("--fewshot-rows", o->fewshot_rows, "few-shot pool rows at most (from train)")
      ->check(CLI::PositiveNumber);
  cmd->callback([cmd, o, data, out] {
    print_resolved_config(*cmd);
    DemoTasksOptions opt = *o;
    opt.data = *data;
    opt.output = check_output({"--output",
                               *out,
                               OutputSpec::Kind::kDir,
                               {"manifest.json", "en_de_mc.jsonl", "en_de_mc_fewshot.jsonl"},
                               {},
                               {},
                               "a task directory of an earlier `lmforge demo tasks`"},
                              {{"--data", *data}});
    const DemoTasksSummary s = build_demo_tasks(opt);
    std::printf(
        "demo tasks in %s:\n  en_de_mc          %d questions (4 choices)\n"
        "  en_de_mc_fewshot  %d rows (few-shot pool)\n",
        out->c_str(), s.rows, s.fewshot_rows);
  });
}

const bool registered = register_command(201, setup);

}  // namespace
}  // namespace lmforge::cli
