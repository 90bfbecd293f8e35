// Server throughput benchmark: `lmforge serve` on a random-weight model of a preset, driven over
// loopback HTTP by 1 client and then by S concurrent clients (POST /v1/completions, greedy), and
// the aggregate generated tokens/s of the two compared: what continuous batching buys. Latency
// percentiles per request are printed for both. The tokens counted are the server's own usage
// figures. Not a test.
// Usage: serve_bench --tokenizer DIR [--preset small] [--streams 8] [--requests 3]
//                    [--max-tokens 64] [--lmforge PATH (next to this binary)]
#include <httplib.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lmforge/data/tokenizer.h"
#include "lmforge/model/config.h"
#include "lmforge/model/transformer.h"

extern char** environ;
using namespace lmforge;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

namespace {
struct Round {
  double seconds = 0;
  long tokens = 0;
  std::vector<double> latency_s;
  int failures = 0;
};

// S clients, each sending `requests` completions one after another.
Round drive(int port, const std::string& model, int S, int requests, int max_tokens) {
  Round r;
  std::vector<std::thread> th;
  std::vector<Round> per(S);
  const auto t0 = clk::now();
  for (int s = 0; s < S; ++s)
    th.emplace_back([&, s] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_read_timeout(600);
      for (int q = 0; q < requests; ++q) {
        nlohmann::json body = {{"model", model},
                               {"prompt", "Stream " + std::to_string(s) + ", request " +
                                              std::to_string(q) + ": once upon a time"},
                               {"max_tokens", max_tokens},
                               {"temperature", 0.0}};
        const auto a = clk::now();
        auto res = cli.Post("/v1/completions", body.dump(), "application/json");
        const double dt = std::chrono::duration<double>(clk::now() - a).count();
        if (!res || res->status != 200) {
          per[s].failures++;
          continue;
        }
        per[s].tokens += nlohmann::json::parse(res->body)["usage"]["completion_tokens"].get<long>();
        per[s].latency_s.push_back(dt);
      }
    });
  for (auto& t : th) t.join();
  r.seconds = std::chrono::duration<double>(clk::now() - t0).count();
  for (auto& p : per) {
    r.tokens += p.tokens;
    r.failures += p.failures;
    r.latency_s.insert(r.latency_s.end(), p.latency_s.begin(), p.latency_s.end());
  }
  std::sort(r.latency_s.begin(), r.latency_s.end());
  return r;
}

double pct(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  return v[std::min(v.size() - 1, (size_t)(p * (v.size() - 1) + 0.5))];
}

void print(const char* name, const Round& r) {
  std::printf(
      "%-10s %6ld tokens in %6.2f s = %7.1f tok/s; latency p50 %.2f s, p90 %.2f s, "
      "p99 %.2f s; %d failed\n",
      name, r.tokens, r.seconds, r.tokens / r.seconds, pct(r.latency_s, 0.5), pct(r.latency_s, 0.9),
      pct(r.latency_s, 0.99), r.failures);
}
}  // namespace

int main(int argc, char** argv) {
  std::string tok_dir, preset = "small";
  std::string bin = (fs::path(argv[0]).parent_path() / "lmforge").string();
  int S = 8, requests = 3, max_tokens = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--tokenizer")
      tok_dir = v;
    else if (a == "--preset")
      preset = v;
    else if (a == "--streams")
      S = std::stoi(v);
    else if (a == "--requests")
      requests = std::stoi(v);
    else if (a == "--max-tokens")
      max_tokens = std::stoi(v);
    else if (a == "--lmforge")
      bin = v;
    else {
      std::fprintf(stderr, "serve_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (tok_dir.empty()) {
    std::fprintf(stderr,
                 "usage: serve_bench --tokenizer DIR [--preset small] [--streams 8] "
                 "[--requests 3] [--max-tokens 64] [--lmforge PATH]\n");
    return 2;
  }
  Tokenizer tok = Tokenizer::load(tok_dir);
  ModelConfig cfg = ModelConfig::preset(preset, tok.vocab_size());
  Transformer model(cfg);
  model.init_weights(1);
  const fs::path dir =
      fs::temp_directory_path() / ("lmforge-serve-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  model.save(dir);
  fs::copy_file(fs::path(tok_dir) / "tokenizer.json", dir / "tokenizer.json",
                fs::copy_options::overwrite_existing);

  const int port = 18000 + getpid() % 1000;
  const std::string port_s = std::to_string(port), par = std::to_string(S), dirs = dir.string();
  const char* args[] = {bin.c_str(),    "serve",      "--model",   dirs.c_str(), "--port",
                        port_s.c_str(), "--parallel", par.c_str(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, bin.c_str(), nullptr, nullptr, const_cast<char**>(args), environ) != 0) {
    std::fprintf(stderr, "serve_bench: cannot start %s\n", bin.c_str());
    return 1;
  }
  httplib::Client probe("127.0.0.1", port);
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    auto res = probe.Get("/health");
    up = res && res->status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!up) {
    std::fprintf(stderr, "serve_bench: the server did not come up on port %d\n", port);
    kill(pid, SIGTERM);
    return 1;
  }
  std::printf("model %s (%.1fM params, random weights), %d max tokens per request, greedy\n",
              preset.c_str(), cfg.num_params() / 1e6, max_tokens);
  const std::string id =
      nlohmann::json::parse(probe.Get("/v1/models")->body)["data"][0]["id"].get<std::string>();
  drive(port, id, 1, 1, 8);  // warm-up
  const Round one = drive(port, id, 1, requests, max_tokens);
  const Round many = drive(port, id, S, requests, max_tokens);
  print("1 client", one);
  char name[32];
  std::snprintf(name, sizeof name, "%d clients", S);
  print(name, many);
  std::printf("aggregate: %.2fx one client\n",
              (many.tokens / many.seconds) / (one.tokens / one.seconds));
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  if (!std::getenv("SERVE_BENCH_KEEP"))
    fs::remove_all(dir);
  else
    std::printf("model kept in %s\n", dir.c_str());
  return one.failures + many.failures > 0 ? 1 : 0;
}
