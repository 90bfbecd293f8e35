// Issue 13, data loss: no command destroys a user's files. Each case as a user hits it with the
// binary: an output that holds someone else's files, that is or contains an input, or that is
// not a regular file/directory is refused with exit 2 naming the option, and nothing is touched;
// `--output data/` just works; a checkpoint deletion cut short is never resumed from and is swept.
// (Character devices are covered by core/output_guard_test without ever writing one.)
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "lmforge/core/file_util.h"
#include "lmforge/serve/label_db.h"
#include "support/cli_run.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;

namespace {

fs::path g_root;

CliRun run(const std::string& args) {
  return run_lmforge(g_root, args);
}

std::string p(const std::string& rel) {
  return (g_root / rel).string();
}

const char* kPretrain =
    " --n-layer 1 --n-head 2 --n-embd 32 --n-ctx 32 --seq-len 16 --batch-size 4 --threads 1 "
    "--peak-gflops 10";

class OutputGuardCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_root = lmforge::test_data::temp_dir("output-guard-cli");
    std::string text;
    for (const auto& d : lmforge::test_data::tiny_documents(60, 3)) text += d + "\n\n";
    lmforge::write_file_atomic(g_root / "corpus.txt", text);
    ASSERT_EQ(
        run("tokenizer train --input " + p("corpus.txt") + " --vocab-size 300 --output " + p("tok"))
            .code,
        0);
    ASSERT_EQ(run("prepare --tokenizer " + p("tok") + " --input " + p("corpus.txt") + " --output " +
                  p("data"))
                  .code,
              0);
    CliRun r = run("pretrain --data " + p("data") + " --output " + p("base") + kPretrain +
                   " --max-steps 4");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(g_root); }
};

void expect_refused(const CliRun& r, const std::string& option, const std::string& path) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(option + " '" + path), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hint:"), std::string::npos) << r.err;
}

}  // namespace

// Item 1: `export --format hf --output v` deleted notes.txt and sub/.
TEST_F(OutputGuardCli, ExportHfIntoAForeignDirectoryKeepsItsFiles) {
  lmforge::write_file_atomic(g_root / "v" / "notes.txt", "x\n");
  fs::create_directories(g_root / "v" / "sub");
  CliRun r = run("export --model " + p("base/final") + " --format hf --output " + p("v"));
  expect_refused(r, "--output", p("v"));
  EXPECT_EQ(lmforge::read_file(g_root / "v" / "notes.txt"), "x\n");
  EXPECT_TRUE(fs::is_directory(g_root / "v" / "sub"));
  EXPECT_FALSE(fs::exists(g_root / "v" / "config.json"));
}

// Item 1: --output the model's parent would delete the input model itself.
TEST_F(OutputGuardCli, ExportHfIntoTheModelsParentIsRefused) {
  fs::create_directories(g_root / "parent");
  fs::copy(g_root / "base" / "final", g_root / "parent" / "m", fs::copy_options::recursive);
  CliRun r = run("export --model " + p("parent/m") + " --format hf --output " + p("parent"));
  expect_refused(r, "--output", p("parent"));
  EXPECT_NE(r.err.find("contains the input --model"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(g_root / "parent" / "m" / "model.safetensors"));
}

// An earlier export (and `--output DIR/`, item 18) is replaced as before.
TEST_F(OutputGuardCli, ExportHfTwiceWithTrailingSlashWorks) {
  const std::string out = p("hf") + "/";
  CliRun r = run("export --model " + p("base/final") + " --format hf --output " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("export --model " + p("base/final") + " --format hf --output " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(g_root / "hf" / "model.safetensors"));
  for (const auto& e : fs::directory_iterator(g_root))
    EXPECT_EQ(e.path().filename().string().find("hf.tmp-"), std::string::npos) << e.path();
}

// Item 2: `label export --output` the database itself overwrote it with JSONL.
TEST_F(OutputGuardCli, LabelExportOntoTheDatabaseIsRefused) {
  const fs::path db = g_root / "f.sqlite";
  { lmforge::LabelDb create(db, true); }
  const std::string before = lmforge::read_file(db);
  CliRun r = run("label export --db " + db.string() + " --output " + db.string());
  expect_refused(r, "--output", db.string());
  EXPECT_EQ(lmforge::read_file(db), before);
  // Any other file that is not a rankings JSONL is kept as well; a new path works.
  lmforge::write_file_atomic(g_root / "notes.txt", "mine\n");
  expect_refused(run("label export --db " + db.string() + " --output " + p("notes.txt")),
                 "--output", p("notes.txt"));
  EXPECT_EQ(lmforge::read_file(g_root / "notes.txt"), "mine\n");
  EXPECT_EQ(run("label export --db " + db.string() + " --output " + p("r.jsonl")).code, 0);
}

// Item 3: the atomic rename replaced a FIFO or a symlink with a regular file.
TEST_F(OutputGuardCli, ExportOntoFifoOrSymlinkIsRefusedAndLeavesThem) {
  ASSERT_EQ(::mkfifo(p("pipe").c_str(), 0600), 0);
  CliRun r = run("export --model " + p("base/final") + " --format gguf --output " + p("pipe"));
  expect_refused(r, "--output", p("pipe"));
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(g_root / "pipe")));
  lmforge::write_file_atomic(g_root / "target.txt", "keep\n");
  fs::create_symlink(g_root / "target.txt", g_root / "link.gguf");
  r = run("export --model " + p("base/final") + " --format gguf --output " + p("link.gguf"));
  expect_refused(r, "--output", p("link.gguf"));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(g_root / "link.gguf")));
  EXPECT_EQ(lmforge::read_file(g_root / "target.txt"), "keep\n");
  fs::create_directories(g_root / "realdir");
  fs::create_directory_symlink(g_root / "realdir", g_root / "linkdir");
  r = run("export --model " + p("base/final") + " --format hf --output " + p("linkdir"));
  expect_refused(r, "--output", p("linkdir"));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(g_root / "linkdir")));
}

// Item 4: finetune --init R/final --output R/final was accepted.
TEST_F(OutputGuardCli, FinetuneOutputEqualToOrContainingInitIsRefused) {
  lmforge::write_file_atomic(g_root / "task.jsonl",
                             "{\"prompt\": \"a\", \"completion\": \" b\"}\n"
                             "{\"prompt\": \"c\", \"completion\": \" d\"}\n");
  const std::string common = " --data " + p("task.jsonl") + " --max-steps 1 --threads 1";
  CliRun r = run("finetune --init " + p("base/final") + " --output " + p("base/final") + common);
  expect_refused(r, "--output", p("base/final"));
  EXPECT_NE(r.err.find("is also the input --init"), std::string::npos) << r.err;
  r = run("finetune --init " + p("base/final") + " --output " + p("base") + " --resume" + common);
  expect_refused(r, "--output", p("base"));
  EXPECT_FALSE(fs::exists(g_root / "base" / "final" / "config.yaml"));
  // A directory holding someone else's files: refused before config.yaml is written.
  lmforge::write_file_atomic(g_root / "busy" / "notes.txt", "x");
  expect_refused(run("finetune --init " + p("base/final") + " --output " + p("busy") + common),
                 "--output", p("busy"));
  EXPECT_FALSE(fs::exists(g_root / "busy" / "config.yaml"));
}

// Item 18: `--output data/` (the README's example) failed with "cannot rename: Invalid argument"
// and left an empty directory.
TEST_F(OutputGuardCli, TrailingSlashOutputsWork) {
  CliRun r = run("prepare --tokenizer " + p("tok") + " --input " + p("corpus.txt") + " --output " +
                 p("data2") + "/");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(g_root / "data2" / "manifest.json"));
  r = run("prepare --tokenizer " + p("tok") + " --input " + p("corpus.txt") + " --output " +
          p("data2") + "/");
  ASSERT_EQ(r.code, 0) << r.err;  // an earlier prepare output is replaced
  r = run("tokenizer train --input " + p("corpus.txt") + " --vocab-size 280 --output " + p("tok2") +
          "/");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("pretrain --data " + p("data2") + "/ --output " + p("run-slash") + "/" + kPretrain +
          " --max-steps 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(g_root / "run-slash" / "final" / "model.safetensors"));
}

// Item 19: a kill during pruning left a half-deleted checkpoint; --resume must skip it (taking
// the newest complete one) and the next prune must sweep it and any trash.
TEST_F(OutputGuardCli, HalfDeletedCheckpointIsSkippedAndSwept) {
  const std::string args = "pretrain --data " + p("data") + " --output " + p("ck") + kPretrain +
                           " --max-steps 8 --save-every 2 --keep-checkpoints 2";
  CliRun r = run(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const fs::path ck = g_root / "ck" / "checkpoints";
  ASSERT_TRUE(fs::exists(ck / "step-6") && fs::exists(ck / "step-8"));
  ASSERT_FALSE(fs::exists(ck / "step-4"));
  // step-8 lost its weights half way through a deletion; step-5 kept only its state file; a
  // trash directory of a prune killed after its rename.
  fs::remove(ck / "step-8" / "model.safetensors");
  fs::create_directories(ck / "step-5");
  fs::copy_file(ck / "step-6" / "trainer_state.json", ck / "step-5" / "trainer_state.json");
  fs::create_directories(ck / "step-2.trash-999");
  r = run(args + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming from " + (ck / "step-6").string()), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(ck / "step-8" / "model.safetensors"));
  EXPECT_FALSE(fs::exists(ck / "step-5"));
  EXPECT_FALSE(fs::exists(ck / "step-2.trash-999"));
}
