// Robustness of `lmforge serve` and `lmforge label` against hostile or careless clients (the
// built binary, a tiny random model): oversized, chunked and compressed bodies (a 102 KB gzip
// that inflates to 100 MB) are answered 413 without the memory; 40 slow clients sending one
// header line every 2 s neither stall other requests nor hold on past --request-timeout; 16
// clients x 200 requests on fresh connections see no reset; a burst of connections while the
// server cannot accept waits in the listen queue instead of being dropped; a second server on a
// port in use exits 1 saying so; a client in the middle of a request does not delay a stop.
// Runs in about 10 s on 2 cores.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT  // the layout Debian's libcpp-httplib was built with
#endif
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "lmforge/core/file_util.h"
#include "serve/http_test_util.h"
#include "serve/server_process.h"
#include "support/tiny_model.h"

namespace lmforge {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

fs::path tiny_model() {
  static const fs::path dir = test::tiny_llama_dir(7, "serve-robust");
  return dir;
}

std::string err_file(const std::string& tag) {
  return (fs::temp_directory_path() /
          ("lmforge-robust-" + std::to_string(getpid()) + "-" + tag + ".err"))
      .string();
}

// One `lmforge serve` shared by the tests of this file (a 3 s request deadline keeps them short).
test::ServerProcess& server() {
  static test::ServerProcess* s =
      new test::ServerProcess("serve --port 0 --request-timeout 3 --model " + tiny_model().string(),
                              err_file("serve"), "http://127\\.0\\.0\\.1:(\\d+)/v1");
  return *s;
}

class Cleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    kill(server().pid, SIGCONT);  // in case a test stopped short while the server was stopped
    server().stop(SIGTERM);
    fs::remove(server().err_path);
    fs::remove_all(tiny_model());
  }
};
[[maybe_unused]] auto* const cleanup = ::testing::AddGlobalTestEnvironment(new Cleanup);

std::string completion_body(int max_tokens = 2) {
  return json{{"model", tiny_model().filename().string()},
              {"prompt", {1, 2, 3}},
              {"max_tokens", max_tokens},
              {"temperature", 0}}
      .dump();
}

int health_status(int port) {
  return test::status_of(test::raw_exchange(
      port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
}

// Sends head + body from another thread while this one reads the answer (a server that stops
// reading early must still be heard).
std::string exchange_while_sending(int port, const std::string& head, const std::string& body,
                                   size_t repeat = 1) {
  const int s = test::connect_local(port);
  if (s < 0) return "";
  std::thread sender([&] {
    if (!test::send_all(s, head)) return;
    for (size_t i = 0; i < repeat; ++i)
      if (!test::send_all(s, body)) return;
  });
  const std::string r = test::read_until_close(s, 20000);
  sender.join();
  ::close(s);
  return r;
}

TEST(ServerRobustness, OversizedAndCompressedBodiesAre413WithoutTheMemory) {
  const int port = server().port;
  ASSERT_GT(port, 0);
  const double before = test::peak_rss_mib(server().pid);
  ASSERT_GT(before, 0);
  // 100 MB announced and sent: refused from its Content-Length, never read into memory.
  const std::string chunk(1 << 20, 'x');
  std::string r = exchange_while_sending(
      port,
      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 104857600\r\n\r\n",
      chunk, 100);
  EXPECT_EQ(test::status_of(r), 413) << r.substr(0, 300);
  EXPECT_NE(r.find("--max-body-bytes"), std::string::npos) << r.substr(0, 300);
  // 8 MiB in chunks, no length announced: cut at the cap.
  std::string chunked;
  for (int i = 0; i < 8; ++i) chunked += "100000\r\n" + chunk + "\r\n";
  chunked += "0\r\n\r\n";
  r = exchange_while_sending(port,
                             "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                             "application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                             chunked);
  EXPECT_EQ(test::status_of(r), 413) << r.substr(0, 300);
  // A gzip bomb: ~100 KB on the wire, 100 MB inflated; inflated no further than the cap.
  const std::string bomb = test::gzip(std::string(100 << 20, ' '));
  EXPECT_LT(bomb.size(), 200u << 10);
  r = test::raw_exchange(port,
                         test::post_request("/v1/completions", bomb, "Content-Encoding: gzip\r\n"));
  EXPECT_EQ(test::status_of(r), 413) << r.substr(0, 300);
  EXPECT_NE(test::body_of(r).find("decompressed"), std::string::npos) << r.substr(0, 300);
  const double after = test::peak_rss_mib(server().pid);
  std::printf("peak RSS %.1f MiB before the large bodies, %.1f MiB after\n", before, after);
  EXPECT_LT(after - before, 64.0) << "peak RSS grew from " << before << " to " << after << " MiB";
  // A compressed body under the cap is served; an unknown encoding is 415.
  r = test::raw_exchange(port, test::post_request("/v1/completions", test::gzip(completion_body()),
                                                  "Content-Encoding: gzip\r\n"));
  EXPECT_EQ(test::status_of(r), 200) << r.substr(0, 500);
  r = test::raw_exchange(
      port, test::post_request("/v1/completions", completion_body(), "Content-Encoding: zstd\r\n"));
  EXPECT_EQ(test::status_of(r), 415) << r.substr(0, 300);
  // A body sent where none is read (unknown path, PUT) is refused before it is read.
  r = test::raw_exchange(port, test::post_request("/v1/nothing", completion_body()));
  EXPECT_EQ(test::status_of(r), 404) << r.substr(0, 300);
  EXPECT_EQ(health_status(port), 200);
}

TEST(ServerRobustness, SlowClientsNeitherStallOthersNorStayPastTheDeadline) {
  const int port = server().port;
  ASSERT_GT(port, 0);
  // 40 clients that send a request head one line every 2 s.
  std::vector<int> slow;
  for (int i = 0; i < 40; ++i) {
    const int s = test::connect_local(port);
    ASSERT_GE(s, 0);
    test::send_all(s, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    slow.push_back(s);
  }
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    for (int line = 0; !stop && line < 5; ++line) {
      for (int i = 0; i < 20 && !stop; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      for (int s : slow) test::send_all(s, "X-Slow-" + std::to_string(line) + ": 1\r\n");
    }
  });
  // Meanwhile others are served at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double worst = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    const std::string r =
        test::raw_exchange(port, test::post_request("/v1/completions", completion_body()), 15000);
    worst = std::max(worst, test::seconds_since(t0));
    EXPECT_EQ(test::status_of(r), 200) << r.substr(0, 300);
  }
  std::printf("slowest of 5 requests during 40 slow clients: %.3f s\n", worst);
  EXPECT_LT(worst, 2.0) << "a request waited behind the slow clients";
  // Every slow client is answered 408 and closed by --request-timeout (3 s), not served forever.
  const auto t0 = Clock::now();
  int timed_out = 0;
  for (int s : slow) {
    const std::string r = test::read_until_close(s, 8000);
    if (test::status_of(r) == 408) ++timed_out;
  }
  const double waited = test::seconds_since(t0);
  stop = true;
  dribble.join();
  for (int s : slow) ::close(s);
  EXPECT_EQ(timed_out, 40);
  EXPECT_LT(waited, 6.0);
}

TEST(ServerRobustness, SixteenClientsTwoHundredRequestsEachNoReset) {
  const int port = server().port;
  ASSERT_GT(port, 0);
  std::atomic<int> ok{0}, failed{0};
  std::vector<double> latency(16 * 200);
  std::vector<std::thread> clients;
  const auto t0 = Clock::now();
  // Even clients open a connection per request (the accept path), odd ones keep theirs alive
  // (the server closes it after 100 requests, saying so).
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client keep("127.0.0.1", port);
      keep.set_keep_alive(true);
      keep.set_tcp_nodelay(true);  // as Node and Python clients do
      keep.set_read_timeout(30, 0);
      for (int i = 0; i < 200; ++i) {
        const auto t = Clock::now();
        const bool generate = i % 4 == 0;
        int status = 0;
        bool reset = false;
        if (c % 2 == 1) {
          auto r = generate ? keep.Post("/v1/completions", completion_body(1), "application/json")
                            : keep.Get("/health");
          status = r ? r->status : 0;
          if (!r)
            std::printf("client %d request %d: %s\n", c, i, httplib::to_string(r.error()).c_str());
        } else {
          const std::string req =
              generate ? test::post_request("/v1/completions", completion_body(1))
                       : "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
          const int s = test::connect_local(port);
          std::string r;
          if (s >= 0) {
            if (test::send_all(s, req)) r = test::read_until_close(s, 30000, &reset);
            ::close(s);
          }
          status = test::status_of(r);
        }
        latency[c * 200 + i] = test::seconds_since(t);
        if (!reset && status == 200)
          ++ok;
        else
          ++failed;
      }
    });
  }
  for (auto& t : clients) t.join();
  std::sort(latency.begin(), latency.end());
  std::printf("16 x 200 requests in %.2f s; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              test::seconds_since(t0), 1e3 * latency[latency.size() / 2],
              1e3 * latency[latency.size() * 99 / 100], 1e3 * latency.back());
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(ok, 3200);
}

TEST(ServerRobustness, ABurstOfConnectionsWaitsInTheListenQueue) {
  const int port = server().port;
  ASSERT_GT(port, 0);
  // While the server is stopped nothing is accepted: the kernel completes handshakes only up to
  // the listen backlog (httplib's 5 before) and drops the rest of the burst.
  ASSERT_EQ(kill(server().pid, SIGSTOP), 0);
  std::vector<int> socks;
  for (int i = 0; i < 64; ++i) {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socks.push_back(s);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int established = 0;
  for (int s : socks) {
    pollfd p{s, POLLOUT, 0};
    int err = 1;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, 0) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
      ++established;
  }
  ASSERT_EQ(kill(server().pid, SIGCONT), 0);
  EXPECT_EQ(established, 64);
  // And every one of them is then served.
  int served = 0;
  for (int s : socks) {
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
    if (test::send_all(s, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") &&
        test::status_of(test::read_until_close(s, 10000)) == 200)
      ++served;
    ::close(s);
  }
  EXPECT_EQ(served, 64);
}

TEST(ServerRobustness, ASecondServerOnAPortInUseExitsOne) {
  const int port = server().port;
  ASSERT_GT(port, 0);
  const fs::path dir = fs::temp_directory_path() / ("lmforge-robust-" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::path prompts = dir / "prompts.jsonl";
  write_file_atomic(prompts, "{\"prompt\":\"hi\"}\n");
  const std::string p = std::to_string(port);
  for (const std::string& cmd :
       {"serve --model " + tiny_model().string() + " --port " + p,
        "label --model " + tiny_model().string() + " --prompts " + prompts.string() + " --db " +
            (dir / "db.sqlite").string() + " --chat off --port " + p}) {
    // `timeout`: a server that shared the port would otherwise serve on and never exit.
    const std::string line = "OMP_NUM_THREADS=1 timeout 60 " + std::string(LMFORGE_BINARY) + " " +
                             cmd + " >/dev/null 2>" + (dir / "err.txt").string();
    const int st = std::system(line.c_str());
    const std::string err = read_file(dir / "err.txt");
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1) << cmd << "\n" << err;
    EXPECT_NE(err.find("cannot bind 127.0.0.1:" + p + ": address in use"), std::string::npos)
        << err;
  }
  fs::remove_all(dir);
  EXPECT_EQ(health_status(port), 200);
}

// Last: it stops the shared server. A client in the middle of a request does not hold up a stop.
TEST(ServerRobustness, StopsPromptlyWithASlowClientConnected) {
  const int port = server().port;
  ASSERT_GT(port, 0);
  const int s = test::connect_local(port);
  ASSERT_GE(s, 0);
  test::send_all(s, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t0 = Clock::now();
  const int st = server().stop(SIGTERM);
  const double took = test::seconds_since(t0);
  ::close(s);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << server().log();
  EXPECT_LT(took, 2.5);
}

}  // namespace
}  // namespace lmforge
