// Requests `lmforge serve` must refuse with a 400 naming the field, never truncate or answer 500
// (the built binary, a tiny random model): integers that are fractions or out of range
// (max_tokens 2^40+1, 4294967295, 5.7; n, seed, top_k, logprobs...), numbers out of range
// (temperature, top_p, min_p), malformed content parts; the API key (from --api-key, the
// LMFORGE_API_KEY environment variable or --api-key-file) is never printed, the scheme
// `bearer` is accepted in any case; cross-origin requests and foreign Host names are refused;
// --help documents each option with its default.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "lmforge/core/file_util.h"
#include "serve/http_test_util.h"
#include "serve/server_process.h"
#include "support/cli_run.h"
#include "support/tiny_model.h"

namespace lmforge {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

fs::path tiny_model() {
  static const fs::path dir = test::tiny_llama_dir(9, "serve-input");
  return dir;
}

fs::path scratch() {
  static const fs::path d = [] {
    const fs::path p =
        fs::temp_directory_path() / ("lmforge-serve-input-" + std::to_string(getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

struct Server : test::ServerProcess {
  explicit Server(const std::string& args, const std::string& tag = "serve")
      : ServerProcess("serve --port 0 --model " + tiny_model().string() + " " + args,
                      (scratch() / (tag + ".err")).string(), "http://127\\.0\\.0\\.1:(\\d+)/v1") {}

  // Status and JSON body of a POST with the model name filled in.
  std::pair<int, json> post(const std::string& path, json body, const std::string& extra = "") {
    if (!body.contains("model")) body["model"] = tiny_model().filename().string();
    const std::string r = test::raw_exchange(port, test::post_request(path, body.dump(), extra));
    const std::string b = test::body_of(r);
    return {test::status_of(r), json::parse(b.empty() ? "null" : b, nullptr, false)};
  }
};

Server* g_shared = nullptr;  // one server for the tests that need no special options

Server& shared() {
  if (!g_shared) g_shared = new Server("");
  return *g_shared;
}

class Cleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    delete g_shared;  // SIGKILL: the shutdown path is tested elsewhere
    fs::remove_all(tiny_model());
    fs::remove_all(scratch());
  }
};
[[maybe_unused]] auto* const cleanup = ::testing::AddGlobalTestEnvironment(new Cleanup);

TEST(ServeInput, NumbersAreCheckedNotTruncated) {
  ASSERT_GT(shared().port, 0);
  const json base = {{"prompt", {1, 2, 3}}, {"max_tokens", 2}, {"temperature", 0}};
  struct Case {
    const char* field;
    json value;
  };
  const std::vector<Case> bad = {
      {"max_tokens", 1099511627777.0},  // 2^40 + 1: was taken as 1
      {"max_tokens", json(1099511627777ll)},
      {"max_tokens", json(4294967295ull)},  // was -1: unlimited
      {"max_tokens", 5.7},                  // was 5
      {"max_tokens", 0},
      {"max_tokens", "5"},
      {"temperature", 2.5},
      {"temperature", -1},
      {"temperature", "hot"},
      {"top_p", 0},
      {"top_p", 1.5},
      {"top_k", -1},
      {"top_k", 2.5},
      {"min_p", 2},
      {"repetition_penalty", -1},
      {"n", 2.5},
      {"n", 17},
      {"n", json(4294967297ull)},
      {"seed", 1.5},
      {"seed", "7"},
      {"logprobs", 1.5},
      {"logprobs", 6},
  };
  for (const Case& c : bad) {
    json req = base;
    req[c.field] = c.value;
    const auto [status, body] = shared().post("/v1/completions", req);
    EXPECT_EQ(status, 400) << c.field << " = " << c.value.dump();
    EXPECT_EQ(body["error"]["param"], c.field) << body.dump();
    EXPECT_EQ(body["error"]["type"], "invalid_request_error") << body.dump();
  }
  json chat = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 2}};
  for (const Case& c : std::vector<Case>{
           {"max_completion_tokens", 5.7}, {"top_logprobs", 21}, {"top_logprobs", 1.5}}) {
    json req = chat;
    req["logprobs"] = true;
    req[c.field] = c.value;
    const auto [status, body] = shared().post("/v1/chat/completions", req);
    EXPECT_EQ(status, 400) << c.field << " = " << c.value.dump();
    EXPECT_EQ(body["error"]["param"], c.field) << body.dump();
  }
  // Integral values written as decimals, and the largest seeds, are fine.
  json ok = base;
  ok["max_tokens"] = 2.0;
  ok["n"] = 2.0;
  ok["seed"] = json(18446744073709551615ull);
  auto [status, body] = shared().post("/v1/completions", ok);
  EXPECT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["choices"].size(), 2u);
  ok["seed"] = -5;
  EXPECT_EQ(shared().post("/v1/completions", ok).first, 200);
}

TEST(ServeInput, MalformedContentPartsAre400) {
  ASSERT_GT(shared().port, 0);
  const std::vector<std::pair<json, std::string>> cases = {
      {json::array({{{"type", "text"}, {"text", 5}}}), "messages[0].content[0].text"},
      {json::array({{{"type", "text"}}}), "messages[0].content[0].text"},
      {json::array({{{"type", 5}, {"text", "x"}}}), "messages[0].content[0].type"},
      {json::array({{{"type", "image_url"}, {"image_url", "x"}}}), "messages[0].content[0].type"},
      {json::array({"text"}), "messages[0].content[0].type"},
  };
  for (const auto& [content, param] : cases) {
    const json req = {{"messages", {{{"role", "user"}, {"content", content}}}}, {"max_tokens", 2}};
    const auto [status, body] = shared().post("/v1/chat/completions", req);
    EXPECT_EQ(status, 400) << content.dump() << " " << body.dump();
    EXPECT_EQ(body["error"]["param"], param) << body.dump();
  }
  const json good = {
      {"messages", {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", "hi"}}}}}}},
      {"max_tokens", 2}};
  EXPECT_EQ(shared().post("/v1/chat/completions", good).first, 200);
}

TEST(ServeInput, CrossOriginAndForeignHostAreRefused) {
  const int port = shared().port;
  ASSERT_GT(port, 0);
  const json req = {{"prompt", {1, 2}}, {"max_tokens", 1}};
  auto [status, body] = shared().post("/v1/completions", req, "Origin: http://evil.example\r\n");
  EXPECT_EQ(status, 403) << body.dump();
  EXPECT_EQ(body["error"]["code"], "cross_origin") << body.dump();
  // Same origin (the Host the browser used) is fine.
  EXPECT_EQ(shared().post("/v1/completions", req, "Origin: http://127.0.0.1\r\n").first, 200);
  // DNS rebinding: a foreign name that resolves to 127.0.0.1 reaches the server with its own Host.
  const std::string r = test::raw_exchange(
      port, "GET /v1/models HTTP/1.1\r\nHost: evil.example:" + std::to_string(port) +
                "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(test::status_of(r), 403) << r;
  for (const std::string host : {"localhost", "127.0.0.1:1", "[::1]:8080", "127.1.2.3"}) {
    const std::string ok = test::raw_exchange(
        port, "GET /v1/models HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(test::status_of(ok), 200) << host << "\n" << ok;
  }
}

TEST(ServeInput, ApiKeyIsNeverPrintedAndBearerIsCaseInsensitive) {
  const std::string key = "sk-test-7f3a9c";
  const json req = {{"prompt", {1, 2}}, {"max_tokens", 1}};
  {
    Server s("--api-key " + key, "key-flag");
    ASSERT_GT(s.port, 0);
    const std::string log = s.log();
    EXPECT_EQ(log.find(key), std::string::npos) << log;
    EXPECT_NE(log.find("api-key: (hidden)"), std::string::npos) << log;
    for (const std::string auth : {"Bearer ", "bearer ", "BEARER  ", "BeArEr "})
      EXPECT_EQ(s.post("/v1/completions", req, "Authorization: " + auth + key + "\r\n").first, 200)
          << auth;
    EXPECT_EQ(s.post("/v1/completions", req, "Authorization: Bearer sk-wrong\r\n").first, 401);
    EXPECT_EQ(s.post("/v1/completions", req, "Authorization: Basic " + key + "\r\n").first, 401);
    EXPECT_EQ(s.post("/v1/completions", req).first, 401);
    EXPECT_EQ(test::status_of(test::raw_exchange(
                  s.port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")),
              200);
  }
  {
    setenv("LMFORGE_API_KEY", key.c_str(), 1);  // inherited by the server
    Server s("", "key-env");
    unsetenv("LMFORGE_API_KEY");
    ASSERT_GT(s.port, 0);
    EXPECT_EQ(s.log().find(key), std::string::npos) << s.log();
    EXPECT_EQ(s.post("/v1/completions", req).first, 401);
    EXPECT_EQ(s.post("/v1/completions", req, "Authorization: bearer " + key + "\r\n").first, 200);
  }
  const fs::path file = scratch() / "key.txt";
  write_file_atomic(file, key + "\n");
  {
    Server s("--api-key-file " + file.string(), "key-file");
    ASSERT_GT(s.port, 0);
    EXPECT_EQ(s.log().find(key), std::string::npos) << s.log();
    EXPECT_EQ(s.post("/v1/completions", req).first, 401);
    EXPECT_EQ(s.post("/v1/completions", req, "Authorization: Bearer " + key + "\r\n").first, 200);
  }
  CliRun r = run_lmforge(scratch(), "serve --model " + tiny_model().string() +
                                        " --api-key x --api-key-file " + file.string());
  EXPECT_EQ(r.code, 2) << r.err;
  write_file_atomic(scratch() / "empty.txt", "\n");
  r = run_lmforge(scratch(), "serve --model " + tiny_model().string() + " --api-key-file " +
                                 (scratch() / "empty.txt").string());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("empty.txt"), std::string::npos) << r.err;
}

TEST(ServeInput, HelpDocumentsTheLimits) {
  const CliRun r = run_lmforge(scratch(), "serve --help");
  ASSERT_EQ(r.code, 0);
  for (const char* opt : {"--max-body-bytes UINT:UINT in [1024 - 1073741824]=4194304",
                          "--request-timeout INT:INT in [1 - 3600]=10", "--api-key-file",
                          "LMFORGE_API_KEY", "--threads INT:INT in [1 - 4096]=256"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt << "\n" << r.out;
}

}  // namespace
}  // namespace lmforge
