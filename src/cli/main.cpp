// lmforge entry point: builds the subcommands from the registry and maps errors to exit codes
// (0 success, 1 runtime failure, 2 bad usage or bad input). Library code never exits.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.h"
#include "lmforge/core/error.h"

int main(int argc, char** argv) {
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
