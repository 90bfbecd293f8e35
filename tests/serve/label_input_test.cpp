// What `lmforge label` must refuse, and store nothing for (the built binary, a tiny random model,
// --chat off): a submit that another site could forge (Content-Type text/plain, a foreign
// Origin), ids that are not the opaque ones the page was given, fractional numbers (order 2.5,
// duration_ms 1.5), a written answer over --max-answer-bytes, and a body over --max-body-bytes
// (a 20 MB answer); the ids the page sees are keyed hashes, stable across restarts; --help
// documents each option with its default.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "lmforge/core/file_util.h"
#include "lmforge/serve/label_db.h"
#include "serve/http_test_util.h"
#include "serve/server_process.h"
#include "support/cli_run.h"
#include "support/tiny_model.h"

namespace lmforge {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

fs::path scratch() {
  static const fs::path d = [] {
    const fs::path p =
        fs::temp_directory_path() / ("lmforge-label-input-" + std::to_string(getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

fs::path tiny_model() {
  static const fs::path dir = test::tiny_llama_dir(11, "label-input");
  return dir;
}

class Cleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    fs::remove_all(tiny_model());
    fs::remove_all(scratch());
  }
};
[[maybe_unused]] auto* const cleanup = ::testing::AddGlobalTestEnvironment(new Cleanup);

struct Label : test::ServerProcess {
  Label(const fs::path& db, const std::string& tag, const std::string& extra = "")
      : ServerProcess("label --port 0 --chat off --samples 3 --max-tokens 4 --seed 3 --model " +
                          tiny_model().string() + " --prompts " + prompts().string() + " --db " +
                          db.string() + " " + extra,
                      (scratch() / (tag + ".err")).string(), "http://127\\.0\\.0\\.1:(\\d+)/") {}
  ~Label() { stop(SIGTERM); }

  static fs::path prompts() {
    const fs::path p = scratch() / "prompts.jsonl";
    if (!fs::exists(p)) write_file_atomic(p, "{\"prompt\":\"The cat\"}\n{\"prompt\":\"Hello\"}\n");
    return p;
  }
  json next(const std::string& who) {
    const std::string r = test::raw_exchange(port, "GET /api/next?labeler=" + who +
                                                       " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                       "Connection: close\r\n\r\n");
    EXPECT_EQ(test::status_of(r), 200) << r;
    return json::parse(test::body_of(r), nullptr, false);
  }
  std::pair<int, std::string> submit(const std::string& body, const std::string& extra = "",
                                     const std::string& type = "application/json") {
    const std::string r =
        test::raw_exchange(port, test::post_request("/api/submit", body, extra, type));
    return {test::status_of(r), test::body_of(r)};
  }
};

json ranking(const json& next, const std::string& who) {
  json order = json::array();
  for (const auto& a : next["answers"]) order.push_back(a["id"]);
  return {{"labeler", who}, {"prompt_id", next["prompt"]["id"]}, {"order", order}};
}

size_t stored(const fs::path& db) {
  return LabelDb(db, false).rankings().size();
}

TEST(LabelInput, SubmitMustBeSameOriginJson) {
  const fs::path db = scratch() / "csrf.sqlite";
  std::string body;
  {
    Label s(db, "csrf");
    ASSERT_GT(s.port, 0);
    const json n = s.next("ann");
    ASSERT_EQ(n["done"], false) << n.dump();
    body = ranking(n, "ann").dump();
    // What a page on another site can send without a preflight: text/plain (or a form).
    EXPECT_EQ(s.submit(body, "Origin: http://evil.example\r\n", "text/plain").first, 403);
    EXPECT_EQ(s.submit(body, "", "text/plain").first, 415);
    EXPECT_EQ(s.submit(body, "", "application/x-www-form-urlencoded").first, 415);
    // JSON from a foreign origin (it would need a CORS preflight, never granted) or Host.
    EXPECT_EQ(s.submit(body, "Origin: http://evil.example\r\n").first, 403);
    EXPECT_EQ(s.submit(body, "Origin: null\r\n").first, 403);
    const std::string rebound = test::raw_exchange(
        s.port,
        "POST /api/submit HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body);
    EXPECT_EQ(test::status_of(rebound), 403) << rebound;
  }
  EXPECT_EQ(stored(db), 0u);
  {
    Label s(db, "csrf2");
    ASSERT_GT(s.port, 0);
    // The page's own request: same origin, JSON (charset allowed); ids stay valid after a restart.
    const auto [status, reply] =
        s.submit(body, "Origin: http://127.0.0.1\r\n", "application/json; charset=utf-8");
    EXPECT_EQ(status, 200) << reply;
  }
  EXPECT_EQ(stored(db), 1u);
}

TEST(LabelInput, IdsAreOpaqueAndNumbersAreNotTruncated) {
  const fs::path db = scratch() / "ids.sqlite";
  Label s(db, "ids");
  ASSERT_GT(s.port, 0);
  const json n = s.next("bob");
  ASSERT_EQ(n["done"], false) << n.dump();
  const std::regex prompt_id("p[0-9a-f]{16}"), answer_id("a[0-9a-f]{16}");
  ASSERT_TRUE(n["prompt"]["id"].is_string()) << n.dump();
  EXPECT_TRUE(std::regex_match(n["prompt"]["id"].get<std::string>(), prompt_id)) << n.dump();
  for (const auto& a : n["answers"])
    EXPECT_TRUE(a["id"].is_string() && std::regex_match(a["id"].get<std::string>(), answer_id))
        << n.dump();
  const json good = ranking(n, "bob");
  struct Case {
    const char* field;
    json value;
  };
  for (const Case& c : std::vector<Case>{{"order", json::array({2.5, 1, 3})},
                                         {"order", json::array({1, 2, 3})},
                                         {"order", "a"},
                                         {"prompt_id", 1},
                                         {"prompt_id", 1.5},
                                         {"duration_ms", 1.5},
                                         {"duration_ms", -1},
                                         {"all_bad", 1},
                                         {"ties", json::array({0, 1, 0})},
                                         {"labeler", 5}}) {
    json bad = good;
    bad[c.field] = c.value;
    const auto [status, reply] = s.submit(bad.dump());
    EXPECT_EQ(status, 400) << c.field << " = " << c.value.dump() << ": " << reply;
    EXPECT_NE(reply.find(std::string("'") + c.field + "'"), std::string::npos) << reply;
  }
  json unknown = good;
  unknown["prompt_id"] = "p0000000000000001";
  EXPECT_EQ(s.submit(unknown.dump()).first, 404);
  EXPECT_EQ(stored(db), 0u);
  json ok = good;
  ok["duration_ms"] = 1500.0;  // integral: fine
  EXPECT_EQ(s.submit(ok.dump()).first, 200);
  EXPECT_EQ(stored(db), 1u);
}

TEST(LabelInput, WrittenAnswersAreCapped) {
  const fs::path db = scratch() / "cap.sqlite";
  Label s(db, "cap", "--max-answer-bytes 1000");
  ASSERT_GT(s.port, 0);
  const json n = s.next("cy");
  ASSERT_EQ(n["done"], false) << n.dump();
  json r = ranking(n, "cy");
  r["better"] = std::string(1001, 'b');
  auto [status, reply] = s.submit(r.dump());
  EXPECT_EQ(status, 400) << reply;
  EXPECT_NE(reply.find("'better'"), std::string::npos) << reply;
  EXPECT_NE(reply.find("--max-answer-bytes"), std::string::npos) << reply;
  r["better"] = std::string(20 << 20, 'b');  // 20 MB: over the body cap (1 MiB by default)
  std::tie(status, reply) = s.submit(r.dump());
  EXPECT_EQ(status, 413) << reply.substr(0, 300);
  EXPECT_EQ(stored(db), 0u);
  r["better"] = std::string(1000, 'b');
  EXPECT_EQ(s.submit(r.dump()).first, 200);
  EXPECT_EQ(stored(db), 1u);
}

TEST(LabelInput, HelpDocumentsTheLimits) {
  const CliRun r = run_lmforge(scratch(), "label --help");
  ASSERT_EQ(r.code, 0);
  for (const char* opt :
       {"--max-body-bytes UINT:UINT in [1024 - 1073741824]=1048576",
        "--max-answer-bytes UINT:UINT in [1 - 16777216]=32768",
        "--request-timeout INT:INT in [1 - 3600]=10", "--threads INT:INT in [1 - 4096]=256"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt << "\n" << r.out;
}

}  // namespace
}  // namespace lmforge
