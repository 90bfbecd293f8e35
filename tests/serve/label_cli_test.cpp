// Command-line tests of `lmforge label`, `label export` and `label stats` (the built binary):
// bad input exits 2 with a message naming the file (newer schema, non-database, prompt longer than
// the context, greedy sampling, missing options); stats and export of a database filled through
// LabelDb; a running server: chat rendering, answers reproducible from the seed, a ranking
// submitted before a SIGKILL is kept and the session continues. The page itself is tested in
// Chromium (tests/e2e/label/).
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT  // the layout Debian's libcpp-httplib was built with
#endif
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "lmforge/serve/label_db.h"
#include "serve/server_process.h"
#include "support/cli_run.h"
#include "support/tmp_files.h"

namespace lmforge {
namespace {

std::filesystem::path scratch() {
  std::filesystem::create_directories(tmp_dir());
  return tmp_dir();
}

// A random tiny model (tests/e2e/make_tiny_model.py) with a 128-position context, made once.
std::filesystem::path tiny_model() {
  static const std::filesystem::path dir = [] {
    const auto d = scratch() / "tiny";
    const std::string cmd = std::string("/usr/bin/python3 ") + LMFORGE_SOURCE_DIR +
                            "/tests/e2e/make_tiny_model.py " + d.string() + " 128";
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
  for (const std::string& sub :
       {"export --output " + (scratch() / "r.jsonl").string(), std::string("stats")}) {
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
  EXPECT_EQ(
      read_file(out),
      "{\"prompt\":\"P\",\"responses\":[\"one\",\"two\"],\"labeler\":\"ann\",\"ranking_id\":1}\n"
      "{\"prompt\":\"P\",\"responses\":[\"one\",\"two\"],\"labeler\":\"bob\",\"ranking_id\":2}\n");
}

TEST(LabelCli, BadInputExitsTwoBeforeServing) {
  const auto model = tiny_model();
  const auto prompts = write_tmp("prompts.jsonl",
                                 "{\"prompt\":\"hi\"}\n"
                                 "{\"prompt\":\"" +
                                     std::string(600, 'z') + " and more\"}\n");
  const auto db = scratch() / "bad.sqlite";
  const std::string base = "label --model " + model.string() + " --prompts " + prompts.string() +
                           " --db " + db.string() + " --port 0";
  CliRun r = run_lmforge(scratch(), base);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(prompts.string() + ":2: field 'prompt'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("context is 128"), std::string::npos) << r.err;

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

// A `lmforge label` process on a free port; its stderr goes to a file, from which the port is read.
// A `lmforge label` process on a free port (server_process.h).
struct Server : test::ServerProcess {
  Server(const std::string& args, const std::string& tag)
      : ServerProcess("label " + args, (scratch() / (tag + ".err")).string(),
                      "http://127\\.0\\.0\\.1:(\\d+)/") {}

  nlohmann::json get(const std::string& path) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    auto r = c.Get(path.c_str());
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return nlohmann::json::parse(r->body);
  }
  int post(const std::string& path, const nlohmann::json& body) {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Post(path.c_str(), body.dump(), "application/json");
    return r ? r->status : -1;
  }
};

// The answers' texts in the order served (the page's ids are opaque: texts identify answers).
std::vector<std::string> texts_in_order(const nlohmann::json& next) {
  std::vector<std::string> v;
  for (const auto& a : next["answers"]) v.push_back(a["text"]);
  return v;
}

std::map<std::string, std::string> texts_by_id(const nlohmann::json& next) {
  std::map<std::string, std::string> m;
  for (const auto& a : next["answers"]) m[a["id"].get<std::string>()] = a["text"];
  return m;
}

TEST(LabelServer, ChatRenderingSeedsAndKillSafety) {
  const auto model = tiny_model();
  const auto prompts = write_tmp("two.jsonl", "{\"prompt\":\"The cat\"}\n{\"prompt\":\"Hello\"}\n");
  const auto db = scratch() / "served.sqlite";
  const auto fresh_db = scratch() / "served2.sqlite";
  const std::string opts = "--model " + model.string() + " --prompts " + prompts.string() +
                           " --port 0 --samples 3 --max-tokens 6 --seed 5 --chat on --db ";
  nlohmann::json first;
  {
    Server s(opts + db.string(), "first");
    ASSERT_GT(s.port, 0);
    first = s.get("/api/next?labeler=ann");
    ASSERT_EQ(first["done"], false);
    EXPECT_EQ(first["prompt"]["text"], "The cat");
    // --chat on: a user turn in ChatML with the assistant header (add_generation_prompt).
    EXPECT_EQ(first["prompt"]["rendered"],
              "<|im_start|>user\nThe cat<|im_end|>\n<|im_start|>assistant\n");
    ASSERT_EQ(first["answers"].size(), 3u);
    std::vector<std::string> order;
    for (const auto& a : first["answers"]) order.push_back(a["id"]);
    EXPECT_EQ(s.post("/api/submit",
                     {{"labeler", "ann"}, {"prompt_id", first["prompt"]["id"]}, {"order", order}}),
              200);
    const int st = s.stop(SIGKILL);  // no shutdown path at all
    EXPECT_TRUE(WIFSIGNALED(st));
  }
  {
    LabelDb d(db, false);
    const auto rs = d.rankings();
    ASSERT_EQ(rs.size(), 1u);
    std::vector<std::string> served;  // as the API shows them: invalid UTF-8 replaced
    for (const auto& t : rs[0].texts)
      served.push_back(nlohmann::json::parse(
          nlohmann::json(t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    EXPECT_EQ(served, texts_in_order(first));
    EXPECT_NE(d.meta("config").find("samples: 3"), std::string::npos) << d.meta("config");
    EXPECT_EQ(d.meta("chat"), "on");
  }
  {
    Server s(opts + db.string(), "again");  // reopening continues the session
    ASSERT_GT(s.port, 0);
    const auto next = s.get("/api/next?labeler=ann");
    EXPECT_EQ(next["prompt"]["text"], "Hello");
    EXPECT_EQ(next["progress"]["mine"], 1);
    EXPECT_EQ(next["progress"]["labelled"], 1);
    const int st = s.stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << read_file(s.err_path);
  }
  {
    Server s(opts + fresh_db.string(), "fresh");  // same model, options and seed: same answers
    ASSERT_GT(s.port, 0);
    const auto again = s.get("/api/next?labeler=bob");
    EXPECT_EQ(again["prompt"]["text"], "The cat");
    std::vector<std::string> a, b;
    for (const auto& [id, t] : texts_by_id(first)) a.push_back(t);
    for (const auto& [id, t] : texts_by_id(again)) b.push_back(t);
    std::sort(a.begin(), a.end());  // ids differ between databases (each has its own key)
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b);
  }
}

}  // namespace
}  // namespace lmforge
