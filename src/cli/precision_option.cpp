// --precision on every command that runs a model (training, inference, evaluation, the demo and
// pipelines). The value takes effect while the command line is parsed, before the command runs;
// its default comes from LMFORGE_PRECISION, so `demo` and `run`, which start each stage as a child
// process, pass their --precision on by setting that variable.
#include <cstdlib>
#include <set>
#include <string>

#include "cli/command.h"
#include "lmforge/backend/isa.h"
#include "lmforge/core/error.h"

namespace lmforge::cli {
namespace {

// Commands (by path from the root) whose work runs a model's matmuls.
const std::set<std::string> kModelCommands = {
    "pretrain", "finetune", "instruct", "reward", "dpo",  "ppo", "generate",    "chat",
    "serve",    "predict",  "eval",     "label",  "demo", "run", "demo answer", "demo rank"};

std::string default_precision() {
  const char* env = std::getenv("LMFORGE_PRECISION");
  return env && *env ? env : "auto";
}

void apply(const std::string& value) {
  backend::set_precision(backend::resolve_precision(value));
  setenv("LMFORGE_PRECISION", value.c_str(), 1);  // stages started as child processes inherit it
}

// CLI11 fills the option of every model command from LMFORGE_PRECISION, parsed or not, and runs
// their callbacks after the running command's own: without the parsed() guard,
// `pretrain --precision fp32` ended as whatever the environment said (15 other commands applied
// it after pretrain had applied fp32). The startup default below does not set the variable for
// the same reason.
void attach(CLI::App& app, const std::string& path) {
  if (kModelCommands.count(path)) {
    CLI::App* self = &app;
    auto apply_if_running = [self](const std::string& value) {
      if (self->parsed()) apply(value);
    };
    app.add_option_function<std::string>("--precision", apply_if_running,
                                         "matmul precision: auto (bf16 where the CPU has "
                                         "AVX512_BF16 or AMX, else fp32), bf16 (bf16 inputs, "
                                         "fp32 accumulation, fp32 weights and optimizer), fp32")
        ->default_str(default_precision())
        ->check(CLI::IsMember({"auto", "bf16", "fp32"}))
        ->envname("LMFORGE_PRECISION");
  }
  for (CLI::App* sub : app.get_subcommands({}))
    attach(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name());
}

}  // namespace

void attach_precision_options(CLI::App& root) {
  try {
    backend::set_precision(backend::resolve_precision(default_precision()));  // no command line
  } catch (const UsageError&) {
    // A bad LMFORGE_PRECISION: the option's check reports it when a model command is parsed.
  }
  attach(root, "");
}

}  // namespace lmforge::cli
