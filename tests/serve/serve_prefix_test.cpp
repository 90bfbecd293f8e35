// Prefix caching seen from an HTTP client of `lmforge serve` (the built binary, on a tiny random
// Llama with the checked-in tokenizer): usage.prompt_tokens_details.cached_tokens for completions
// (token-id prompts, so the expected counts are exact: a shared prefix, the same prompt again, a
// streamed request with include_usage) and for a chat conversation's next turn; six clients at
// once with a shared prefix; at temperature 0 every answer equals the one from a server started
// with --cache-slots 0, which reports no cached tokens; /health counts the pool's hits; --help
// documents the option.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT  // the layout Debian's libcpp-httplib was built with
#endif
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <thread>

#include "lmforge/core/file_util.h"
#include "lmforge/data/chat_render.h"
#include "lmforge/infer/generate.h"
#include "lmforge/infer/loaded_model.h"
#include "serve/server_process.h"
#include "support/cli_run.h"
#include "support/tiny_model.h"

namespace lmforge {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

fs::path tiny_model() {
  // n_ctx 256: the tiny tokenizer spends many tokens on a chat
  static const fs::path dir = test::tiny_llama_dir(5, "serve-prefix", /*n_ctx=*/256);
  return dir;
}

class RemoveModel : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(tiny_model()); }
};
[[maybe_unused]] auto* const remove_model = ::testing::AddGlobalTestEnvironment(new RemoveModel);

// A `lmforge serve` process on a free port (server_process.h) that must shut down cleanly.
struct Server : test::ServerProcess {
  explicit Server(const std::string& args)
      : ServerProcess("serve --port 0 --model " + tiny_model().string() + " " + args, err_file(),
                      "http://127\\.0\\.0\\.1:(\\d+)/v1") {}
  ~Server() {
    const int st = stop(SIGTERM);
    if (st != -1) {
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << log();
    }
    fs::remove(err_path);
  }
  static std::string err_file() {
    static int n = 0;
    return (fs::temp_directory_path() /
            ("lmforge-serve-prefix-" + std::to_string(getpid()) + "-" + std::to_string(n++)))
        .string();
  }

  json post(const std::string& path, json body) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    body["model"] = tiny_model().filename().string();
    auto r = c.Post(path.c_str(), body.dump(), "application/json");
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    if (!body.value("stream", false)) return json::parse(r->body);
    // Server-sent events: the text pieces joined, and the usage chunk.
    json out = {{"text", ""}};
    std::istringstream in(r->body);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("data: ", 0) != 0 || line == "data: [DONE]") continue;
      const json ev = json::parse(line.substr(6));
      for (const auto& ch : ev["choices"]) {
        const std::string piece =
            ch.contains("delta") ? ch["delta"].value("content", "") : ch.value("text", "");
        out["text"] = out["text"].get<std::string>() + piece;
      }
      if (ev.contains("usage")) out["usage"] = ev["usage"];
    }
    return out;
  }
  json health() {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get("/health");
    EXPECT_TRUE(r);
    return r ? json::parse(r->body) : json();
  }
};

int cached(const json& response) {
  return response["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>();
}

std::string text_of(const json& r) {
  if (r.contains("text")) return r["text"];  // a joined stream
  const json& ch = r["choices"][0];
  return ch.contains("message") ? ch["message"]["content"].get<std::string>()
                                : ch["text"].get<std::string>();
}

std::vector<int32_t> random_ids(int n, uint32_t seed) {
  const int V = Tokenizer::load(test::tokenizer_dir()).vocab_size();
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = int32_t(rng() % (uint32_t)V);
  return v;
}

TEST(ServePrefix, CompletionsReportExactlyTheReusedPrefix) {
  const auto p1 = random_ids(30, 1), tail = random_ids(6, 2);
  auto with_tail = [&](int keep) {
    std::vector<int32_t> p(p1.begin(), p1.begin() + keep);
    p.insert(p.end(), tail.begin(), tail.end());
    return p;
  };
  ASSERT_NE(tail[0], p1[20]);
  ASSERT_NE(tail[0], p1[25]);
  const std::vector<json> requests = {
      {{"prompt", p1}, {"max_tokens", 5}, {"temperature", 0}},
      {{"prompt", with_tail(20)}, {"max_tokens", 5}, {"temperature", 0}},
      {{"prompt", p1}, {"max_tokens", 5}, {"temperature", 0}},
      {{"prompt", with_tail(25)},
       {"max_tokens", 5},
       {"temperature", 0},
       {"stream", true},
       {"stream_options", {{"include_usage", true}}}}};
  const std::vector<int> want_cached = {0, 20, 29, 25};
  std::vector<std::string> texts;
  {
    Server off("--cache-slots 0");
    ASSERT_GT(off.port, 0);
    for (const json& r : requests) {
      const json out = off.post("/v1/completions", r);
      EXPECT_EQ(cached(out), 0);
      texts.push_back(text_of(out));
    }
    EXPECT_EQ(off.health()["prefix_cache"]["hits"], 0);
  }
  Server on("--parallel 2 --cache-slots 3");
  ASSERT_GT(on.port, 0);
  EXPECT_NE(on.log().find("3 pooled for prefix reuse"), std::string::npos) << on.log();
  for (size_t i = 0; i < requests.size(); ++i) {
    const json out = on.post("/v1/completions", requests[i]);
    EXPECT_EQ(cached(out), want_cached[i]) << "request " << i;
    EXPECT_EQ(out["usage"]["prompt_tokens"], requests[i]["prompt"].size()) << "request " << i;
    EXPECT_EQ(text_of(out), texts[i]) << "request " << i;
  }
  const json h = on.health()["prefix_cache"];
  EXPECT_EQ(h["slots"], 3);
  EXPECT_EQ(h["lookups"], 4);
  EXPECT_EQ(h["hits"], 3);
  EXPECT_EQ(h["cached_tokens"], 20 + 29 + 25);
}

TEST(ServePrefix, ChatNextTurnReusesTheConversation) {
  const std::string sys_text = "Be terse.", u1_text = "The cat sat.", u2_text = "Then?";
  const json sys = {{"role", "system"}, {"content", sys_text}};
  const json u1 = {{"role", "user"}, {"content", u1_text}};
  const json u2 = {{"role", "user"}, {"content", u2_text}};
  auto turn1 = [&] { return json{{"messages", {sys, u1}}, {"max_tokens", 8}, {"temperature", 0}}; };
  auto turn2 = [&](const std::string& reply) {
    return json{{"messages", {sys, u1, {{"role", "assistant"}, {"content", reply}}, u2}},
                {"max_tokens", 8},
                {"temperature", 0}};
  };
  std::string reply1, reply2;
  {
    Server off("--cache-slots 0");
    ASSERT_GT(off.port, 0);
    const json a = off.post("/v1/chat/completions", turn1());
    reply1 = text_of(a);
    const json b = off.post("/v1/chat/completions", turn2(reply1));
    reply2 = text_of(b);
    EXPECT_EQ(cached(a), 0);
    EXPECT_EQ(cached(b), 0);
  }
  // What the second turn must at least find: the first turn's whole prompt, as far as it is a
  // token prefix of the second's (the reply's text is re-tokenized, so its tokens may differ).
  auto m = LoadedModel::load(tiny_model());
  const ChatTemplate t = m->chat_template();
  const auto p1 = t.encode(m->tokenizer, {{"system", sys_text}, {"user", u1_text}}, true);
  const auto p2 = t.encode(
      m->tokenizer,
      {{"system", sys_text}, {"user", u1_text}, {"assistant", reply1}, {"user", u2_text}}, true);
  size_t common = 0;
  while (common < p1.size() && p1[common] == p2[common]) ++common;
  ASSERT_GT(common, 10u);
  // The reply is the model's greedy text without the one space ChatML writes before a reply.
  {
    GenerateRequest g;
    g.prompt = p1;
    g.max_tokens = 8;
    g.sampling.temperature = 0;
    g.stop = {t.end_of_turn()};
    g.stop_ids = m->eos_ids;
    for (int32_t id : t.stop_ids(m->tokenizer)) g.stop_ids.push_back(id);
    Sequence seq(*m->infer, m->tokenizer, g);
    Sequence* one = &seq;
    while (!seq.done()) step(*m->infer, {&one, 1});
    ASSERT_TRUE(t.reply_has_prefix_space());
    // The server's JSON replaces invalid UTF-8 (a random model's bytes) with U+FFFD; so here.
    const std::string want = strip_reply_prefix(seq.text());
    EXPECT_EQ(reply1, json::parse(json(want).dump(-1, ' ', false, json::error_handler_t::replace))
                          .get<std::string>());
  }

  Server on("");
  ASSERT_GT(on.port, 0);
  const json a = on.post("/v1/chat/completions", turn1());
  EXPECT_EQ(cached(a), 0);
  EXPECT_EQ(text_of(a), reply1);
  const json b = on.post("/v1/chat/completions", turn2(reply1));
  EXPECT_EQ(text_of(b), reply2);
  EXPECT_GE(cached(b), (int)common);
  EXPECT_LT(cached(b), (int)p2.size());
  EXPECT_EQ(b["usage"]["prompt_tokens"], p2.size());
  std::printf("second turn: %d of %zu prompt tokens cached (first prompt %zu, shared %zu)\n",
              cached(b), p2.size(), p1.size(), common);
  // Streamed with include_usage: the same count (the same prompt again: all but its last token).
  json s = turn2(reply1);
  s["stream"] = true;
  s["stream_options"] = {{"include_usage", true}};
  const json c = on.post("/v1/chat/completions", s);
  ASSERT_TRUE(c.contains("usage")) << c.dump();
  EXPECT_EQ(text_of(c), reply2);  // streamed pieces join to the same reply, space removed too
  EXPECT_EQ(cached(c), (int)p2.size() - 1);
  EXPECT_EQ(on.health()["prefix_cache"]["slots"], 8);  // the default: 2 x --parallel (4)
}

TEST(ServePrefix, ConcurrentClientsGetTheNoReuseAnswers) {
  // Six clients at once, two requests each: a shared 20-token prefix and a client's own 5, then
  // the same plus 4 more tokens (which leaves the first request's cache after its prompt).
  constexpr int kClients = 6;
  const auto shared = random_ids(20, 7);
  auto prompts = [&](int c) {
    std::vector<int32_t> a = shared, own = random_ids(5, 10 + c), more = random_ids(4, 30 + c);
    a.insert(a.end(), own.begin(), own.end());
    std::vector<int32_t> b = a;
    b.insert(b.end(), more.begin(), more.end());
    return std::vector<std::vector<int32_t>>{a, b};
  };
  auto request = [](const std::vector<int32_t>& p) {
    return json{{"prompt", p}, {"max_tokens", 6}, {"temperature", 0}};
  };
  std::vector<std::vector<std::string>> want(kClients), got(kClients);
  std::vector<std::vector<int>> cached_got(kClients);
  {
    Server off("--cache-slots 0");
    ASSERT_GT(off.port, 0);
    for (int c = 0; c < kClients; ++c)
      for (const auto& p : prompts(c))
        want[c].push_back(text_of(off.post("/v1/completions", request(p))));
  }
  Server on("--parallel 3 --cache-slots 4");
  ASSERT_GT(on.port, 0);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      for (const auto& p : prompts(c)) {
        const json out = on.post("/v1/completions", request(p));
        got[c].push_back(text_of(out));
        cached_got[c].push_back(cached(out));
      }
    });
  for (auto& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(got[c], want[c]) << "client " << c;
    ASSERT_EQ(cached_got[c].size(), 2u);
    EXPECT_GE(cached_got[c][1], 20) << "client " << c;  // at least the shared prefix
    EXPECT_LE(cached_got[c][1], 25) << "client " << c;  // at most its own first prompt
  }
  EXPECT_EQ(on.health()["active"], 0);
}

TEST(ServePrefix, HelpDocumentsCacheSlots) {
  const fs::path scratch =
      fs::temp_directory_path() / ("lmforge-serve-prefix-" + std::to_string(getpid()));
  fs::create_directories(scratch);
  const CliRun r = run_lmforge(scratch, "serve --help");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("--cache-slots"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 disables prefix reuse"), std::string::npos) << r.out;
  fs::remove_all(scratch);
}

}  // namespace
}  // namespace lmforge
