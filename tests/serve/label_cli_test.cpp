// Command-line tests of `lmforge label`, `label export` and `label stats` (the built binary):
// bad input exits 2 with a message naming the file (newer schema, non-database, prompt longer than
// the context, greedy sampling, missing options); stats and export of a database filled through
// LabelDb. The page itself is tested in Chromium (tests/e2e/label/).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "cli/cli_run.h"
#include "data/tmp_files.h"
#include "lmforge/serve/label_db.h"

namespace lmforge {
namespace {

std::filesystem::path scratch() {
  std::filesystem::create_directories(tmp_dir());
  return tmp_dir();
}

// A random tiny model (tests/e2e/make_tiny_model.py) with a 16-position context, made once.
std::filesystem::path tiny_model() {
  static const std::filesystem::path dir = [] {
    const auto d = scratch() / "tiny";
    const std::string cmd = std::string("/usr/bin/python3 ") + LMFORGE_SOURCE_DIR +
                            "/tests/e2e/make_tiny_model.py " + d.string() + " 16";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return d;
  }();
  return dir;
}

TEST(LabelCli, NewerSchemaExitsTwoAndNamesTheFile) {
  const auto p = scratch() / "newer.sqlite";
  {
    LabelDb db(p, true);
    ASSERT_EQ(sqlite3_exec(db.handle(), "PRAGMA user_version=5", 0, 0, 0), SQLITE_OK);
  }
  for (const std::string& sub : {"export --output " + (scratch() / "r.jsonl").string(),
                                 std::string("stats")}) {
    const CliRun r = run_lmforge(scratch(), "label " + sub + " --db " + p.string());
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(p.string() + ":"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("schema version 5 is newer"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(scratch() / "r.jsonl"));
}

TEST(LabelCli, StatsAndExport) {
  const auto p = scratch() / "stats.sqlite";
  {
    LabelDb db(p, true);
    const auto ids = db.add_prompts({"P"}, {"P"});
    db.store_answers(ids[0], {"one", "two"}, {1, 2});
    const auto a = db.answers(ids[0]);
    for (const char* who : {"ann", "bob"}) {
      RankingSubmission s;
      s.labeler = who;
      s.prompt_id = ids[0];
      s.order = {a[0].id, a[1].id};
      db.submit(s);
    }
  }
  const CliRun st = run_lmforge(scratch(), "label stats --db " + p.string());
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_NE(st.out.find("labelled: 1/1 prompts, 2 rankings"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("agreement: 1.000 of 1 answer pairs"), std::string::npos) << st.out;
  const auto out = scratch() / "stats.jsonl";
  const CliRun ex =
      run_lmforge(scratch(), "label export --db " + p.string() + " --output " + out.string());
  ASSERT_EQ(ex.code, 0) << ex.err;
  EXPECT_EQ(read_file(out),
            "{\"prompt\":\"P\",\"responses\":[\"one\",\"two\"],\"labeler\":\"ann\",\"ranking_id\":1}\n"
            "{\"prompt\":\"P\",\"responses\":[\"one\",\"two\"],\"labeler\":\"bob\",\"ranking_id\":2}\n");
}

TEST(LabelCli, BadInputExitsTwoBeforeServing) {
  const auto model = tiny_model();
  const auto prompts = write_tmp("prompts.jsonl",
                                 "{\"prompt\":\"hi\"}\n"
                                 "{\"prompt\":\"" + std::string(200, 'z') + " and more\"}\n");
  const auto db = scratch() / "bad.sqlite";
  const std::string base = "label --model " + model.string() + " --prompts " + prompts.string() +
                           " --db " + db.string() + " --port 0";
  CliRun r = run_lmforge(scratch(), base);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(prompts.string() + ":2: field 'prompt'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("context is 16"), std::string::npos) << r.err;

  const auto ok = write_tmp("short.jsonl", "{\"prompt\":\"hi\"}\n");
  const std::string good = "label --model " + model.string() + " --prompts " + ok.string() +
                           " --db " + db.string() + " --port 0";
  r = run_lmforge(scratch(), good + " --temperature 0");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--temperature must be above 0"), std::string::npos) << r.err;
  r = run_lmforge(scratch(), good + " --samples 1");
  EXPECT_EQ(r.code, 2) << r.err;
  r = run_lmforge(scratch(), "label --prompts " + ok.string() + " --db " + db.string());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("needs --model"), std::string::npos) << r.err;
  const auto bad_lines = write_tmp("bad.jsonl", "{\"prompt\":\"a\"}\n{\"text\":\"b\"}\n");
  r = run_lmforge(scratch(), "label --model " + model.string() + " --prompts " +
                                 bad_lines.string() + " --db " + db.string());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(bad_lines.string() + ":2"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lmforge
