// Atomic writes leave either the old or the new content, never a temp file or a partial one.
#include "lmforge/core/file_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

#include "lmforge/core/error.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {
fs::path fresh_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("lmforge-test-" + name + "-" + std::to_string(getpid()));
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
  EXPECT_STREQ(e.what(),
               "data.jsonl:7: field 'prompt': expected a string, got 3 (hint: quote the value)");
}

TEST(FileUtil, UnwritableDirIsUsageError) {
  EXPECT_THROW(ensure_writable_dir("/proc/lmforge-cannot-exist/x"), UsageError);
}

// The atomic rename must never replace a node that is not a regular file (issue 13: exporting to
// a device node replaced it). FIFO and symlink made here; a device is only checked by
// output_guard_test, never written.
TEST(FileUtil, AtomicWriteRefusesFifoAndSymlinkAndLeavesThem) {
  fs::path d = fresh_dir("nodes");
  ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0600), 0);
  EXPECT_THROW(write_file_atomic(d / "fifo", "x"), UsageError);
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(d / "fifo")));
  write_file_atomic(d / "target", "keep");
  fs::create_symlink(d / "target", d / "link");
  EXPECT_THROW(write_file_atomic(d / "link", "x"), UsageError);
  EXPECT_THROW(write_file_atomic_with(d / "link", [](std::FILE*) {}), UsageError);
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(d / "link")));
  EXPECT_EQ(read_file(d / "target"), "keep");
  fs::create_directories(d / "realdir");
  fs::create_directory_symlink(d / "realdir", d / "linkdir");
  EXPECT_THROW(write_dir_atomic(d / "linkdir", [](const fs::path&) {}), UsageError);
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(d / "linkdir")));
  EXPECT_THROW(write_dir_atomic(d / "fifo", [](const fs::path&) {}), UsageError);
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(d / "fifo")));
  // Nothing half-written next to them.
  for (const auto& e : fs::directory_iterator(d))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  fs::remove_all(d);
}

// "--output data/" (issue 13, item 18): the directory named with a trailing slash is written.
TEST(FileUtil, AtomicDirAcceptsTrailingSlash) {
  fs::path d = fresh_dir("slash");
  write_dir_atomic(d.string() + "/data/",
                   [](const fs::path& tmp) { write_file_atomic(tmp / "a.txt", "one"); });
  EXPECT_EQ(read_file(d / "data" / "a.txt"), "one");
  write_dir_atomic(d.string() + "/data/",
                   [](const fs::path& tmp) { write_file_atomic(tmp / "b.txt", "two"); });
  EXPECT_EQ(read_file(d / "data" / "b.txt"), "two");
  EXPECT_FALSE(fs::exists(d / "data" / "a.txt"));
  EXPECT_EQ(std::distance(fs::directory_iterator(d), fs::directory_iterator()), 1);
  EXPECT_THROW(write_file_atomic(d.string() + "/f.txt/", "x"), UsageError);
  EXPECT_FALSE(fs::exists(d / "f.txt"));
  fs::remove_all(d);
}
