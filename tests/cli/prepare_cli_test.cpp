// `lmforge prepare` as a user runs it: exit codes, error messages naming file:line:field, nothing
// written on bad input, and a successful run producing the documented directory.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "lmforge/core/file_util.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {
const std::string kTokenizer =
    std::string(LMFORGE_SOURCE_DIR) + "/tests/data/fixtures/tiny_tokenizer";

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

Result run(const std::string& args) {
  const std::string cmd = std::string(LMFORGE_BINARY) + " " + args + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  Result r;
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

fs::path fresh_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("lmforge-prepcli-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST(PrepareCli, MalformedJsonlExitsTwoAndWritesNothing) {
  fs::path d = fresh_dir("bad");
  write_file_atomic(d / "good.txt", "one\n\ntwo\n");
  write_file_atomic(d / "train.jsonl",
                    "{\"text\": \"fine\"}\n{\"text\": \"fine\"}\n{\"text\": [1]}\n");
  Result r = run("prepare --tokenizer " + kTokenizer + " --input " + (d / "good.txt").string() +
                 " " + (d / "train.jsonl").string() + " --output " + (d / "out").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("error: " + (d / "train.jsonl").string() +
                          ":3: field 'text': expected a string, got array\n"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(d / "out"));
  write_file_atomic(d / "train.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"unterminated}\n");
  r = run("prepare --tokenizer " + kTokenizer + " --input " + (d / "train.jsonl").string() +
          " --output " + (d / "out").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(":2: invalid JSON at column 24: syntax error while parsing value - "
                          "invalid string: missing closing quote"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(d / "out"));
  fs::remove_all(d);
}

TEST(PrepareCli, MissingInputExitsTwoNamingThePath) {
  fs::path d = fresh_dir("missing");
  write_file_atomic(d / "good.txt", "one\n");
  Result r = run("prepare --tokenizer " + kTokenizer + " --input " + (d / "good.txt").string() +
                 " " + (d / "nope").string() + " --output " + (d / "out").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("error: " + (d / "nope").string() +
                          ": input path does not exist (hint: check the path given to --input)\n"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(d / "out"));
  r = run("prepare --tokenizer " + (d / "no-tokenizer").string() + " --input " +
          (d / "good.txt").string() + " --output " + (d / "out").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find((d / "no-tokenizer").string() + ": tokenizer directory does not exist"),
            std::string::npos)
      << r.output;
  r = run("prepare --tokenizer " + kTokenizer + " --output " + (d / "out").string());
  EXPECT_EQ(r.code, 2) << r.output;  // --input is required
  fs::remove_all(d);
}

TEST(PrepareCli, SuccessWritesTheDocumentedDirectory) {
  fs::path d = fresh_dir("ok");
  write_file_atomic(d / "c" / "a.txt", "the cat\n\nthe dog\n\nand the bird\n");
  Result r = run("prepare --tokenizer " + kTokenizer + " --input " + (d / "c").string() +
                 " --output " + (d / "out").string() + " --val-fraction 0.3 --seed 1");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("lmforge prepare: resolved configuration"), std::string::npos);
  for (const char* f : {"manifest.json", "train-00000.bin", "val-00000.bin", "tokenizer.json",
                        "tokenizer_config.json", "config.yaml"})
    EXPECT_TRUE(fs::exists(d / "out" / f)) << f;
  EXPECT_NE(read_file(d / "out" / "config.yaml").find("val-fraction: 0.3"), std::string::npos);
  fs::remove_all(d);
}
