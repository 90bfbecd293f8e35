// lmforge entry point: builds the subcommands from the registry and maps errors to exit codes
// (0 success, 1 runtime failure, 2 bad usage or bad input). Library code never exits.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.h"
#include "lmforge/core/error.h"

namespace {
// OpenMP threads that finish their share spin while waiting by default; when another process
// shares the cores, the spinning thread steals the time of the one still working (measured
// 3.5-5x slower training on a loaded 2-core machine, docs/PERF_NOTES.md). The runtime reads
// OMP_WAIT_POLICY once, before main, so when the user has not chosen, re-run ourselves once with
// "passive" (sleep while waiting). Any explicit user setting is respected.
void prefer_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default
}
}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp_wait(argv);
  CLI::App app{
      "lmforge: create your own language model end to end (tokenizer, pretraining, fine-tuning,\n"
      "instruction tuning, RLHF), then use, measure, serve and export it.\n"
      "Run `lmforge COMMAND --help` for the options of each command.",
      "lmforge"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lmforge 0.1.0");
  lmforge::cli::build_commands(app);
  try {
    std::vector<std::string> args(argv, argv + argc);
    args = lmforge::cli::expand_config_file(app, std::move(args));
    // CLI11 parses a reversed vector (it pops arguments from the back).
    std::vector<std::string> rev(args.rbegin(), args.rend() - 1);
    app.parse(rev);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const lmforge::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const lmforge::UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
