// Benchmark of multiple-choice scoring (eval/loglik.h): questions per second of lmforge's
// shared-context scoring (each context forwarded once, its KV cache copied per choice, questions
// batched), of lmforge scoring each choice with its own forward, and of the PyTorch reference doing
// the harness's scoring (bench/eval_bench.py: one padded forward per question's choices, float32,
// no_grad), all on the same random model and questions in this run, with the ratio. The
// log-likelihoods of the three are compared too. Random weights (speed does not depend on them).
// Not a test. Needs /usr/bin/python3 with torch for the reference column.
// Usage: eval_bench [preset=small] [vocab=8192] [questions=1000] [context=48] [choices=4]
//                   [torch_questions=200] [threads=2]
#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "lmforge/core/file_util.h"
#include "lmforge/eval/loglik.h"
#include "lmforge/model/config.h"
#include "lmforge/model/transformer.h"

using namespace lmforge;
using clk = std::chrono::steady_clock;
namespace fs = std::filesystem;

static double secs(clk::time_point a, clk::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int main(int argc, char** argv) {
  const std::string preset = argc > 1 ? argv[1] : "small";
  const int V = argc > 2 ? std::atoi(argv[2]) : 8192;
  const int NQ = argc > 3 ? std::atoi(argv[3]) : 1000;
  const int CTX = argc > 4 ? std::atoi(argv[4]) : 48;
  const int K = argc > 5 ? std::atoi(argv[5]) : 4;
  const int NT = argc > 6 ? std::atoi(argv[6]) : 200;
  const int threads = argc > 7 ? std::atoi(argv[7]) : 2;
  omp_set_num_threads(threads);
  ModelConfig cfg = ModelConfig::preset(preset, V);
  Transformer m(cfg);
  m.init_weights(1);
  InferenceModel infer(m);
  LogLikScorer scorer(infer);

  // Questions: contexts of CTX/2..CTX tokens, K choices of 1..6 tokens (a HellaSwag-like shape
  // would have longer endings; ARC/MMLU-like answers are short).
  std::mt19937_64 rng(7);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<QuestionIds> qs(NQ);
  for (auto& q : qs) {
    q.context.resize(r(CTX / 2, CTX));
    for (auto& t : q.context) t = r(0, V - 1);
    for (int c = 0; c < K; ++c) {
      std::vector<int32_t> cont(r(1, 6));
      for (auto& t : cont) t = r(0, V - 1);
      q.continuations.push_back(cont);
    }
  }
  std::printf(
      "eval_bench: preset %s (%.1fM params, V=%d), %d questions x %d choices, context "
      "%d-%d tokens, %d threads\n",
      preset.c_str(), cfg.num_params() / 1e6, V, NQ, K, CTX / 2, CTX, threads);

  scorer.score(std::span(qs).first(std::min(NQ, 16)));  // warm up
  auto t0 = clk::now();
  const auto shared = scorer.score(qs);
  const double t_shared = secs(t0, clk::now());
  t0 = clk::now();
  double diff = 0;
  for (int q = 0; q < NQ; ++q)
    for (int c = 0; c < K; ++c)
      diff =
          std::max(diff, std::fabs(scorer.score_separate(qs[q].context, qs[q].continuations[c]).ll -
                                   shared[q][c].ll));
  const double t_sep = secs(t0, clk::now());
  std::printf("  lmforge shared context  %8.1f questions/s  (%.2f s)\n", NQ / t_shared, t_shared);
  std::printf("  lmforge per choice      %8.1f questions/s  (%.2f s)  max |ll diff| %.2g\n",
              NQ / t_sep, t_sep, diff);

  // The PyTorch reference on the first NT questions.
  const fs::path dir =
      fs::temp_directory_path() / ("lmforge-eval-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  m.save(dir);
  nlohmann::json jq = nlohmann::json::array();
  for (int q = 0; q < std::min(NQ, NT); ++q)
    jq.push_back({{"context", qs[q].context}, {"continuations", qs[q].continuations}});
  write_file_atomic(dir / "questions.json", jq.dump());
  // The script sits next to this source file (an absolute __FILE__), else in ../bench from a build
  // directory inside the checkout.
  fs::path script = fs::path(__FILE__).parent_path() / "eval_bench.py";
  if (!fs::exists(script))
    script =
        fs::canonical("/proc/self/exe").parent_path().parent_path() / "bench" / "eval_bench.py";
  const std::string cmd = "/usr/bin/python3 " + script.string() + " --model " + dir.string() +
                          " --questions " + (dir / "questions.json").string() + " --threads " +
                          std::to_string(threads) + " > " + (dir / "torch.json").string();
  if (std::system(cmd.c_str()) != 0) {
    std::printf("  torch reference: failed (needs /usr/bin/python3 with torch)\n");
  } else {
    const auto j = nlohmann::json::parse(read_file(dir / "torch.json"));
    const double tq = j["questions"].get<double>() / j["seconds"].get<double>();
    double tdiff = 0;
    for (size_t q = 0; q < j["lls"].size(); ++q)
      for (int c = 0; c < K; ++c)
        tdiff = std::max(tdiff, std::fabs(j["lls"][q][c].get<double>() - shared[q][c].ll));
    std::printf("  torch (harness-style)   %8.1f questions/s  (%d questions)  max |ll diff| %.2g\n",
                tq, j["questions"].get<int>(), tdiff);
    std::printf("  shared context vs torch: %.1fx; vs per choice: %.1fx\n", (NQ / t_shared) / tq,
                t_sep / t_shared);
  }
  fs::remove_all(dir);
  return 0;
}
