// Scratch files for data tests: a per-process temp directory removed once every test has run.
// Include from exactly one test file per executable (it registers a gtest environment).
#pragma once
#include <errno.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "lmforge/core/file_util.h"

namespace {

std::filesystem::path tmp_dir() {
  return std::filesystem::temp_directory_path() /
         ("lmforge-" + std::string(program_invocation_short_name) + "-" + std::to_string(getpid()));
}

class TmpDirCleanup : public ::testing::Environment {
 public:
  void TearDown() override { std::filesystem::remove_all(tmp_dir()); }
};
[[maybe_unused]] auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TmpDirCleanup);

std::filesystem::path write_tmp(const std::string& name, const std::string& content) {
  std::filesystem::path d = tmp_dir();
  std::filesystem::create_directories(d);
  lmforge::write_file_atomic(d / name, content);
  return d / name;
}

}  // namespace
