// Every numeric option of every command is range-checked at parse time (issue 13, item 16): the
// table in src/cli/option_limits.cpp covers each one, and the check refuses what CLI11's own
// conversion accepts (negative counts, 20-digit integers it clamps, nan/inf, octal-looking
// numbers). Built by option_limits.cmake from the CLI sources without main.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/option_limits.h"
#include "lmforge/dist/comm.h"

// main.cpp (not linked here) owns the process's communicator; the commands' callbacks, which
// would ask for it, never run in this test.
lmforge::Comm& lmforge::cli::process_comm() {
  static const std::unique_ptr<lmforge::Comm> single = lmforge::make_single_process_comm();
  return *single;
}

using namespace lmforge::cli;

namespace {

struct Tree {
  CLI::App app{"lmforge", "lmforge"};
  Tree() { build_commands(app); }
};

// The error of option `name` of command `path` for value v ("" when accepted).
std::string check(CLI::App& root, const std::vector<std::string>& path, const std::string& name,
                  const std::string& v) {
  CLI::App* cmd = &root;
  for (const auto& p : path) cmd = cmd->get_subcommand(p);
  CLI::Option* opt = cmd->get_option(name);
  return (*opt->get_validator(kNumberValidator))(v);
}

}  // namespace

TEST(OptionLimits, EveryNumericOptionHasARange) {
  Tree t;
  std::vector<std::string> missing = unbounded_numeric_options(t.app);
  std::string list;
  for (auto& m : missing) list += "  " + m + "\n";
  EXPECT_TRUE(missing.empty()) << "numeric options without a range in src/cli/option_limits.cpp:\n"
                               << list;
}

TEST(OptionLimits, RefusesWhatCli11Accepts) {
  Tree t;
  CLI::App& a = t.app;
  EXPECT_NE(check(a, {"pretrain"}, "--max-steps", "-5"), "");
  EXPECT_NE(check(a, {"pretrain"}, "--max-steps", "99999999999999999999"), "");
  EXPECT_NE(check(a, {"pretrain"}, "--max-steps", "010"), "");
  EXPECT_NE(check(a, {"pretrain"}, "--max-steps", "1e3"), "");
  EXPECT_EQ(check(a, {"pretrain"}, "--max-steps", "1000"), "");
  EXPECT_NE(check(a, {"pretrain"}, "--threads", "-3"), "");
  EXPECT_NE(check(a, {"finetune"}, "--threads", "-3"), "");
  for (const char* bad : {"nan", "inf", "-inf", "0", "-1e-3", "1e400"}) {
    EXPECT_NE(check(a, {"pretrain"}, "--lr", bad), "") << bad;
    EXPECT_NE(check(a, {"dpo"}, "--lr", bad), "") << bad;
  }
  EXPECT_EQ(check(a, {"pretrain"}, "--lr", "3e-4"), "");
  EXPECT_NE(check(a, {"pretrain"}, "--beta2", "1"), "");
  EXPECT_NE(check(a, {"generate"}, "--temperature", "nan"), "");
  EXPECT_NE(check(a, {"generate"}, "--top-p", "0"), "");
  EXPECT_NE(check(a, {"chat"}, "--seed", "-1"), "");
  EXPECT_EQ(check(a, {"chat"}, "--seed", "18446744073709551615"), "");
  EXPECT_NE(check(a, {"chat"}, "--seed", "18446744073709551616"), "");
  EXPECT_EQ(check(a, {"eval"}, "--max-tokens", "0"), "");  // 0: all, for eval only
  EXPECT_NE(check(a, {"generate"}, "--max-tokens", "0"), "");
  EXPECT_NE(check(a, {"tokenizer", "train"}, "--vocab-size", "99999999999999999999"), "");
}

// RUN/config.yaml lists every default and is a valid --config: each default must pass its check.
TEST(OptionLimits, DefaultsAreInRange) {
  Tree t;
  std::vector<CLI::App*> todo{&t.app};
  while (!todo.empty()) {
    CLI::App* app = todo.back();
    todo.pop_back();
    for (CLI::App* s : app->get_subcommands([](CLI::App*) { return true; })) todo.push_back(s);
    for (CLI::Option* o : app->get_options()) {
      CLI::Validator* v = nullptr;
      try {
        v = o->get_validator(kNumberValidator);
      } catch (const CLI::OptionNotFound&) {
        continue;
      }
      std::string d = o->get_default_str();
      if (d.empty() || d.front() == '[' || d.find(' ') != std::string::npos)
        continue;  // "2 x --parallel"
      EXPECT_EQ((*v)(d), "") << app->get_name() << " " << o->get_name() << " default " << d;
    }
  }
}
