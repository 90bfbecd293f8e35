// The shared output check (core/output_guard.h): which existing paths a command may write to,
// which it must refuse (exit 2, option and path named, nothing touched), and the input overlap
// rules. /dev/null is only ever stat'ed here, never written.
#include "lmforge/core/output_guard.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("lmforge-guard-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

OutputSpec dir_spec(const fs::path& p, std::vector<std::string> own = {"model.safetensors"}) {
  OutputSpec s;
  s.path = p;
  s.own = std::move(own);
  return s;
}

OutputSpec file_spec(const fs::path& p) {
  OutputSpec s;
  s.path = p;
  s.kind = OutputSpec::Kind::kFile;
  s.same_kind = starts_with_bytes("GGUF");
  s.what = "a GGUF file";
  return s;
}

// The UsageError message of a refused check ("" when accepted).
std::string refusal(const OutputSpec& s, const std::vector<InputPath>& in = {}) {
  try {
    check_output(s, in);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(OutputGuard, NewPathsAreAcceptedAndNothingIsCreated) {
  fs::path d = fresh_dir("new");
  EXPECT_EQ(check_output(dir_spec(d / "out"), {}), d / "out");
  EXPECT_EQ(check_output(file_spec(d / "m.gguf"), {}), d / "m.gguf");
  EXPECT_FALSE(fs::exists(d / "out"));
  EXPECT_FALSE(fs::exists(d / "m.gguf"));
  fs::remove_all(d);
}

TEST(OutputGuard, TrailingSlashNamesTheDirectory) {
  fs::path d = fresh_dir("slash");
  EXPECT_EQ(check_output(dir_spec(d.string() + "/data/"), {}), d / "data");
  EXPECT_EQ(check_output(dir_spec(d.string() + "/data//"), {}), d / "data");
  EXPECT_EQ(strip_trailing_separators("/"), fs::path("/"));
  EXPECT_EQ(strip_trailing_separators("."), fs::current_path());
  // A file output spelled as a directory is a mistake, not a directory.
  std::string msg = refusal(file_spec(d.string() + "/m.gguf/"));
  EXPECT_NE(msg.find("ends with '/'"), std::string::npos) << msg;
  fs::remove_all(d);
}

TEST(OutputGuard, ForeignDirectoryContentIsRefusedAndKept) {
  fs::path d = fresh_dir("foreign");
  write_file_atomic(d / "v" / "notes.txt", "mine");
  fs::create_directories(d / "v" / "sub");
  std::string msg = refusal(dir_spec(d / "v"));
  EXPECT_NE(msg.find("--output '" + (d / "v").string() + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("notes.txt, sub"), std::string::npos) << msg;
  EXPECT_NE(msg.find("hint:"), std::string::npos) << msg;
  EXPECT_EQ(read_file(d / "v" / "notes.txt"), "mine");
  EXPECT_TRUE(fs::is_directory(d / "v" / "sub"));
  fs::remove_all(d);
}

TEST(OutputGuard, EarlierOutputsEmptyDirsAndLeftoversAreAccepted) {
  fs::path d = fresh_dir("earlier");
  fs::create_directories(d / "empty");
  EXPECT_EQ(refusal(dir_spec(d / "empty")), "");
  write_file_atomic(d / "prev" / "model.safetensors", "x");
  write_file_atomic(d / "prev" / "model.safetensors.tmp-77", "half");  // a killed write
  EXPECT_EQ(refusal(dir_spec(d / "prev")), "");
  // Wildcards, and a proof name that keeps the user's own files next to a run.
  write_file_atomic(d / "data" / "train-00000.bin", "x");
  EXPECT_EQ(refusal(dir_spec(d / "data", {"train-*.bin"})), "");
  write_file_atomic(d / "run" / "metrics.jsonl", "");
  write_file_atomic(d / "run" / "my-notes.txt", "");
  OutputSpec run = dir_spec(d / "run", run_dir_names());
  EXPECT_NE(refusal(run), "");  // my-notes.txt is not a name a run writes...
  run.proof = run_dir_proof();
  EXPECT_EQ(refusal(run), "");  // ...but metrics.jsonl proves an earlier run the user annotated
  fs::remove(d / "run" / "metrics.jsonl");
  EXPECT_NE(refusal(run), "");
  // A workspace takes anything, but must still be a directory.
  EXPECT_EQ(refusal(dir_spec(d / "run", {"*"})), "");
  EXPECT_NE(refusal(dir_spec(d / "run" / "my-notes.txt", {"*"})).find("not a directory"),
            std::string::npos);
  fs::remove_all(d);
}

TEST(OutputGuard, FilesOfAnotherKindAreRefused) {
  fs::path d = fresh_dir("files");
  write_file_atomic(d / "old.gguf", std::string("GGUF\x03\0\0\0", 8));
  EXPECT_EQ(refusal(file_spec(d / "old.gguf")), "");
  write_file_atomic(d / "empty.gguf", "");
  EXPECT_EQ(refusal(file_spec(d / "empty.gguf")), "");
  write_file_atomic(d / "f.sqlite", std::string("SQLite format 3\0", 16));
  std::string msg = refusal(file_spec(d / "f.sqlite"));
  EXPECT_NE(msg.find("is not a GGUF file"), std::string::npos) << msg;
  fs::create_directories(d / "dir.gguf");
  msg = refusal(file_spec(d / "dir.gguf"));
  EXPECT_NE(msg.find("is a directory"), std::string::npos) << msg;
  OutputSpec jsonl = file_spec(d / "r.jsonl");
  jsonl.same_kind = jsonl_with_key({"responses"});
  write_file_atomic(d / "r.jsonl", "{\"prompt\": \"p\", \"responses\": [\"a\", \"b\"]}\n");
  EXPECT_EQ(refusal(jsonl), "");
  write_file_atomic(d / "r.jsonl", "{\"messages\": []}\n");
  EXPECT_NE(refusal(jsonl), "");
  fs::remove_all(d);
}

TEST(OutputGuard, SymlinksFifosAndDevicesAreRefused) {
  fs::path d = fresh_dir("nodes");
  ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0600), 0);
  write_file_atomic(d / "target.gguf", "GGUF");
  fs::create_symlink(d / "target.gguf", d / "link.gguf");
  fs::create_directories(d / "realdir");
  fs::create_directory_symlink(d / "realdir", d / "linkdir");
  std::string msg = refusal(file_spec(d / "fifo"));
  EXPECT_NE(msg.find("FIFO"), std::string::npos) << msg;
  EXPECT_NE(refusal(dir_spec(d / "fifo")).find("FIFO"), std::string::npos);
  msg = refusal(file_spec(d / "link.gguf"));
  EXPECT_NE(msg.find("symbolic link"), std::string::npos) << msg;
  EXPECT_NE(refusal(dir_spec(d / "linkdir")).find("symbolic link"), std::string::npos);
  // A character device: only looked at (check_output never writes).
  msg = refusal(file_spec("/dev/null"));
  EXPECT_NE(msg.find("character device"), std::string::npos) << msg;
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(d / "fifo")));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(d / "link.gguf")));
  fs::remove_all(d);
}

TEST(OutputGuard, OutputMustStayApartFromInputs) {
  fs::path d = fresh_dir("inputs");
  write_file_atomic(d / "runs" / "m" / "model.safetensors", "x");
  write_file_atomic(d / "f.sqlite", std::string("SQLite format 3\0", 16));
  // Equal, even spelled differently or through a hard link.
  OutputSpec f = file_spec(d / "f.sqlite");
  f.same_kind = {};
  std::string msg = refusal(f, {{"--db", d / "." / "f.sqlite"}});
  EXPECT_NE(msg.find("is also the input --db"), std::string::npos) << msg;
  fs::create_hard_link(d / "f.sqlite", d / "g.sqlite");
  EXPECT_NE(refusal(f, {{"--db", d / "g.sqlite"}}), "");
  // The output contains the input (export --output into the model's parent).
  msg = refusal(dir_spec(d / "runs", {"*"}), {{"--model", d / "runs" / "m"}});
  EXPECT_NE(msg.find("contains the input --model"), std::string::npos) << msg;
  msg = refusal(dir_spec(d / "runs" / "m"), {{"--init", d / "runs" / "m/"}});
  EXPECT_NE(msg.find("is also the input --init"), std::string::npos) << msg;
  // The output lies inside an input directory.
  msg = refusal(dir_spec(d / "runs" / "m" / "out"), {{"--init", d / "runs" / "m"}});
  EXPECT_NE(msg.find("inside the input directory --init"), std::string::npos) << msg;
  // Siblings and empty (unset) inputs are fine.
  EXPECT_EQ(refusal(dir_spec(d / "runs" / "m2"), {{"--init", d / "runs" / "m"}, {"--x", ""}}), "");
  fs::remove_all(d);
}
