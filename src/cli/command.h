// How subcommands plug into the single `lmforge` binary. Each src/cli/<name>.cpp registers itself
// with a static `register_command(...)`; main() builds the CLI11 app from the registry, sorted by
// `order` (the journey's order: tokenizer, prepare, pretrain, ...). Command files only parse
// options and call the library.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "lmforge/dist/comm.h"

namespace lmforge::cli {

using CommandSetup = std::function<void(CLI::App& root)>;

// Registers a subcommand builder. Returns true so it can initialize a static.
bool register_command(int order, CommandSetup setup);

// Runs every registered builder on root, in order.
void build_commands(CLI::App& root);

// Adds --precision auto|bf16|fp32 to every command that runs a model (cli/precision_option.cpp)
// and applies its default (LMFORGE_PRECISION, else auto) before parsing.
void attach_precision_options(CLI::App& root);

// Adds a subcommand with lmforge's conventions: `--config FILE.yaml` (keys are the long option
// names; flags given on the command line override it), unknown config keys are errors, and
// defaults are shown in --help.
CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& description);

// Applies `--config FILE.yaml` of the invoked subcommand: each key becomes `--key value...`
// inserted into the arguments unless the command line already sets that option (flags win).
// Unknown keys and unreadable files throw InputError naming the file, line and key.
// (CLI11 2.1 reads a config file only for the root app, hence this expansion before parsing.)
std::vector<std::string> expand_config_file(CLI::App& root, std::vector<std::string> args);

// The resolved configuration of a parsed subcommand as YAML ("key: value" per long option),
// suitable for printing at start and saving as RUN/config.yaml.
std::string resolved_config_yaml(const CLI::App& command);

// Prints the resolved configuration to stderr under a header line.
void print_resolved_config(const CLI::App& command);

// The communicator of this process (dist/comm.h), created once by main() before the commands
// run: MPI's world under mpirun, else one process. Training commands pass it to the library.
lmforge::Comm& process_comm();

}  // namespace lmforge::cli
