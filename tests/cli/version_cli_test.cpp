// `lmforge --version`: the version on the first line, what the kernels run on (the backend
// summary: ISA, threads, precision, GEMM) on the second; LMFORGE_ISA shows in it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "support/cli_run.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(VersionCli, SecondLineIsTheBackendSummary) {
  const fs::path scratch =
      fs::temp_directory_path() / ("lmforge-version-" + std::to_string(getpid()));
  fs::create_directories(scratch);
  CliRun r = run_lmforge(scratch, "--version");
  ASSERT_EQ(r.code, 0) << r.err;
  auto l = lines(r.out);
  ASSERT_EQ(l.size(), 2u) << r.out;
  EXPECT_EQ(l[0].rfind("lmforge ", 0), 0u) << l[0];
  EXPECT_EQ(l[1].rfind("cpu: ", 0), 0u) << l[1];
  for (const char* part : {" threads), precision: ", ", gemm: "})
    EXPECT_NE(l[1].find(part), std::string::npos) << l[1];
  setenv("LMFORGE_ISA", "avx2", 1);
  CliRun capped = run_lmforge(scratch, "--version");
  unsetenv("LMFORGE_ISA");
  ASSERT_EQ(capped.code, 0) << capped.err;
  EXPECT_EQ(lines(capped.out).at(1).rfind("cpu: avx2 (", 0), 0u) << capped.out;
  fs::remove_all(scratch);
}

}  // namespace
