// The KV-cached inference forward against full recomputation (Transformer::forward_logits on the
// whole prefix, the training path): greedy generation token for token, logits at every step, for
// GPT-2, Llama with GQA and an untied head, Llama with one kv head, and Qwen3 (q/k norms); prefill
// in one chunk vs several; a batched step of sequences at different positions vs each run alone.
// Tolerance: logits max |a-b| <= 1e-4 (both float32 on the same weights, different summation
// orders: the parity test measured ~1e-6 between f32 engines, so 1e-4 is a wide margin yet far
// below the logit gaps that decide a greedy token).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "lmforge/infer/engine.h"
#include "lmforge/infer/generate.h"
#include "support/tiny_model.h"

namespace lmforge {
namespace {

constexpr double kLogitTol = 1e-4;

struct Case {
  const char* tag;
  std::string arch;
  int n_kv;
  bool tied;
};

class CacheVsFull : public ::testing::TestWithParam<Case> {};

int32_t argmax(const float* x, int n) {
  return int32_t(std::max_element(x, x + n) - x);
}

TEST_P(CacheVsFull, GreedyTokenForToken) {
  const Case& c = GetParam();
  Tokenizer tok = Tokenizer::load(test::tokenizer_dir());
  const int V = tok.vocab_size();
  Transformer model = test::make_model(test::tiny_cfg(c.arch, V, c.n_kv, c.tied), 42);
  InferenceModel infer(model);
  std::vector<int32_t> ids = tok.encode("The cat sat on the mat.");
  ASSERT_GE(ids.size(), 3u);
  const int steps = 40;  // prompt + 40 > 32: positions past the first attention block
  KVCache cache(model.config(), model.config().n_ctx);
  std::vector<int32_t> seq = ids, fed = ids;
  double worst = 0;
  for (int s = 0; s < steps; ++s) {
    ForwardChunk ch{&cache, fed};
    const float* cached = infer.forward({&ch, 1});
    std::vector<float> mine(cached, cached + V);
    const float* full = model.forward_logits(seq.data(), 1, (int)seq.size()) + (seq.size() - 1) * V;
    worst = std::max(worst, test::max_abs_diff(mine.data(), full, V));
    ASSERT_LE(test::max_abs_diff(mine.data(), full, V), kLogitTol) << c.tag << " step " << s;
    const int32_t next = argmax(full, V);
    ASSERT_EQ(argmax(mine.data(), V), next) << c.tag << " step " << s;
    seq.push_back(next);
    fed.assign(1, next);
  }
  EXPECT_EQ(cache.size(), (int)seq.size() - 1);
  std::printf("[%s] %d greedy steps, max logit diff cached vs full %.2e\n", c.tag, steps, worst);

  // The same through Sequence (sampler at temperature 0, text bookkeeping).
  GenerateRequest req;
  req.prompt = ids;
  req.max_tokens = steps;
  req.sampling.temperature = 0.0f;
  Sequence sq(infer, tok, req);
  Sequence* one = &sq;
  while (!sq.done()) step(infer, {&one, 1});
  EXPECT_EQ(sq.generated(), std::vector<int32_t>(seq.begin() + ids.size(), seq.end()));
  EXPECT_EQ(sq.finish_reason(), FinishReason::kLength);
  EXPECT_EQ(sq.text(), tok.decode(sq.generated()));
}

TEST_P(CacheVsFull, ChunkedPrefillAndBatchedDecode) {
  const Case& c = GetParam();
  Tokenizer tok = Tokenizer::load(test::tokenizer_dir());
  const int V = tok.vocab_size();
  Transformer model = test::make_model(test::tiny_cfg(c.arch, V, c.n_kv, c.tied), 7);
  InferenceModel infer(model);
  std::mt19937 rng(3);
  std::vector<int32_t> p(37);
  for (auto& x : p) x = int32_t(rng() % V);
  // One chunk vs chunks of 1, 16, 20 tokens: the last logits agree.
  KVCache a(model.config(), 64), b(model.config(), 64);
  ForwardChunk whole{&a, p};
  const float* pa = infer.forward({&whole, 1});
  std::vector<float> la(pa, pa + V);
  const float* pb = nullptr;
  for (auto [from, to] : {std::pair{0, 1}, {1, 17}, {17, 37}}) {
    ForwardChunk part{&b, std::span<const int32_t>(p).subspan(from, to - from)};
    pb = infer.forward({&part, 1});
  }
  EXPECT_LE(test::max_abs_diff(la.data(), pb, V), kLogitTol) << c.tag << ": chunked prefill";
  EXPECT_EQ(b.tokens(), p);

  // Three greedy sequences alone vs together, the third joining after 3 steps (so one forward
  // mixes its prefill with the others' decode rows).
  std::vector<std::vector<int32_t>> prompts = {
      {p.begin(), p.begin() + 5}, {p.begin() + 5, p.begin() + 17}, {p.begin() + 3, p.begin() + 23}};
  auto request = [&](const std::vector<int32_t>& pr) {
    GenerateRequest r;
    r.prompt = pr;
    r.max_tokens = 12;
    r.sampling.temperature = 0.0f;
    return r;
  };
  std::vector<std::vector<int32_t>> alone;
  for (auto& pr : prompts) {
    Sequence s(infer, tok, request(pr), nullptr, 64);
    Sequence* one = &s;
    while (!s.done()) step(infer, {&one, 1});
    alone.push_back(s.generated());
  }
  std::vector<std::unique_ptr<Sequence>> seqs;
  for (int i = 0; i < 2; ++i)
    seqs.push_back(std::make_unique<Sequence>(infer, tok, request(prompts[i]), nullptr, 64));
  std::vector<Sequence*> active = {seqs[0].get(), seqs[1].get()};
  for (int s = 0; s < 3; ++s) EXPECT_EQ(step(infer, active), 2);
  seqs.push_back(std::make_unique<Sequence>(infer, tok, request(prompts[2]), nullptr, 64));
  active.push_back(seqs[2].get());
  while (step(infer, active) > 0) {
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(seqs[i]->generated(), alone[i]) << c.tag << " seq " << i;
}

INSTANTIATE_TEST_SUITE_P(Tiny, CacheVsFull,
                         ::testing::Values(Case{"gpt2", "gpt2", 4, true},
                                           Case{"llama_gqa_untied", "llama", 2, false},
                                           Case{"llama_mqa_tied", "llama", 1, true},
                                           Case{"qwen3_gqa_tied", "qwen3", 2, true}),
                         [](const auto& info) { return std::string(info.param.tag); });

}  // namespace
}  // namespace lmforge
