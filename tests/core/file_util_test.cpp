// Atomic writes leave either the old or the new content, never a temp file or a partial one.
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {
fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("lmforge-test-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST(FileUtil, AtomicWriteReplacesContent) {
  fs::path d = fresh_dir("atomic");
  write_file_atomic(d / "a.txt", "first");
  write_file_atomic(d / "a.txt", "second");
  EXPECT_EQ(read_file(d / "a.txt"), "second");
  EXPECT_EQ(std::distance(fs::directory_iterator(d), fs::directory_iterator()), 1);
  fs::remove_all(d);
}

TEST(FileUtil, FailedWriterLeavesOldContentAndNoTemp) {
  fs::path d = fresh_dir("atomic-fail");
  write_file_atomic(d / "a.txt", "old");
  EXPECT_THROW(write_file_atomic_with(d / "a.txt",
                                      [](std::FILE* f) {
                                        std::fputs("half", f);
                                        throw std::runtime_error("boom");
                                      }),
               std::runtime_error);
  EXPECT_EQ(read_file(d / "a.txt"), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(d), fs::directory_iterator()), 1);
  fs::remove_all(d);
}

TEST(FileUtil, AtomicDirIsAllOrNothing) {
  fs::path d = fresh_dir("atomic-dir");
  write_dir_atomic(d / "out", [](const fs::path& tmp) { write_file_atomic(tmp / "x", "1"); });
  EXPECT_EQ(read_file(d / "out" / "x"), "1");
  EXPECT_THROW(write_dir_atomic(d / "out",
                                [](const fs::path& tmp) {
                                  write_file_atomic(tmp / "y", "2");
                                  throw RuntimeError("fail midway");
                                }),
               RuntimeError);
  EXPECT_EQ(read_file(d / "out" / "x"), "1");
  EXPECT_FALSE(fs::exists(d / "out" / "y"));
  EXPECT_EQ(std::distance(fs::directory_iterator(d), fs::directory_iterator()), 1);
  fs::remove_all(d);
}

TEST(Errors, InputErrorNamesFileLineFieldAndHint) {
  InputError e("data.jsonl", 7, "prompt", "expected a string, got 3", "quote the value");
  EXPECT_STREQ(e.what(), "data.jsonl:7: field 'prompt': expected a string, got 3 (hint: quote the value)");
}

TEST(FileUtil, UnwritableDirIsUsageError) {
  EXPECT_THROW(ensure_writable_dir("/proc/lmforge-cannot-exist/x"), UsageError);
}
