// Runs the built `lmforge` binary (LMFORGE_BINARY) with arguments, capturing exit code, stdout and
// stderr through files in a scratch directory.
#pragma once
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "lmforge/core/file_util.h"

struct CliRun {
  int code;
  std::string out, err;
};

inline CliRun run_lmforge(const std::filesystem::path& scratch, const std::string& args) {
  std::filesystem::path o = scratch / "stdout.txt", e = scratch / "stderr.txt";
  std::string cmd =
      std::string(LMFORGE_BINARY) + " " + args + " >" + o.string() + " 2>" + e.string();
  int st = std::system(cmd.c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, lmforge::read_file(o), lmforge::read_file(e)};
}
