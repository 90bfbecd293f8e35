// The accepted range of every numeric command-line option, checked while parsing (the same check
// runs on values from a --config YAML file, which become options). A value outside its range, a
// non-finite number (nan, inf), an integer too large for 64 bits (CLI11 would clamp it), a
// fraction for an integer option or a negative number for a count is refused with exit 2 naming
// the option. The table lives in option_limits.cpp; docs/TRAINING.md lists it for users.
// Not here: checks that need several options or the data (the commands' library calls do those).
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace lmforge::cli {

// Name of the validator attached to numeric options (CLI::Option::get_validator(name)).
inline constexpr const char* kNumberValidator = "lmforge-number";

// Attaches the range check to every numeric option (CLI11 type INT, UINT or FLOAT) of every
// subcommand under root. Options the table does not list still get the generic check (finite,
// fits 64 bits, not negative when unsigned).
void attach_option_limits(CLI::App& root);

// "COMMAND --option" for every numeric option that neither the table nor a validator of its own
// bounds (a test keeps this list empty so that a new option cannot skip the check).
std::vector<std::string> unbounded_numeric_options(CLI::App& root);

}  // namespace lmforge::cli
