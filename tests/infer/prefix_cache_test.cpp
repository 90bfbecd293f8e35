// Prefix caching (infer/prefix_cache.h, infer/scheduler.h). The pool alone: the longest common
// prefix wins (ties: most recently used), a cache that is wholly a prefix is handed over while a
// diverging one is copied row for row and stays pooled, at least one prompt token is always left
// to compute, LRU eviction (a use counts as recent), redundant caches become blank memory, zero
// slots disable it. Through the Scheduler on a tiny Llama (GQA, untied head): greedy requests
// served after related ones (shared prefix then diverging, a conversation going on, the same
// prompt again) produce the same tokens and logprobs as a scheduler without reuse, and report
// exactly the reused prefix; several clients with overlapping conversations at once match the
// no-reuse outputs; a job cancelled while queued finishes with an error and no Sequence.
// Tolerance: logprobs |a-b| <= 1e-4, as in tests/infer/infer_cache_test.cpp (reused rows were
// computed in another chunking than a fresh prefill; f32 summation order differs by ~1e-6).
#include "lmforge/infer/prefix_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "lmforge/infer/scheduler.h"
#include "support/tiny_model.h"

namespace lmforge {
namespace {

using Ids = std::vector<int32_t>;

ModelConfig pool_cfg() {
  return test::tiny_cfg("llama", 100, 2);  // L 2, NKV 2, HS 16, n_ctx 64
}

// A cache holding `tokens` whose k/v rows carry `tag` (and their layer, head, position).
std::unique_ptr<KVCache> filled(const ModelConfig& cfg, const Ids& tokens, float tag) {
  auto c = std::make_unique<KVCache>(cfg, cfg.n_ctx);
  const size_t plane = (size_t)cfg.n_ctx * cfg.head_dim;
  for (int l = 0; l < cfg.n_layer; ++l)
    for (int g = 0; g < cfg.n_kv_head; ++g)
      for (size_t p = 0; p < tokens.size(); ++p)
        for (int d = 0; d < cfg.head_dim; ++d) {
          const size_t at = g * plane + p * cfg.head_dim + d;
          c->k(l)[at] = tag + 0.1f * l + 0.01f * g + 0.001f * p;
          c->v(l)[at] = -c->k(l)[at];
        }
  c->mutable_tokens() = tokens;
  return c;
}

// Whether rows [0, n) of `c` are the rows filled() wrote with `tag`.
bool rows_of(const ModelConfig& cfg, KVCache& c, int n, float tag) {
  auto ref = filled(cfg, Ids(n, 0), tag);
  const size_t plane = (size_t)cfg.n_ctx * cfg.head_dim;
  for (int l = 0; l < cfg.n_layer; ++l)
    for (int g = 0; g < cfg.n_kv_head; ++g)
      if (std::memcmp(c.k(l) + g * plane, ref->k(l) + g * plane, n * cfg.head_dim * 4) != 0 ||
          std::memcmp(c.v(l) + g * plane, ref->v(l) + g * plane, n * cfg.head_dim * 4) != 0)
        return false;
  return true;
}

TEST(PrefixCachePool, LongestPrefixWinsTiesGoToTheMostRecent) {
  const ModelConfig cfg = pool_cfg();
  PrefixCachePool pool(cfg, cfg.n_ctx, 8);
  EXPECT_EQ(pool.bytes_per_cache(), 2u * 2 * 2 * 64 * 16 * 4);
  pool.put(filled(cfg, {1, 2, 3, 4}, 1));
  pool.put(filled(cfg, {1, 2, 9, 9, 9}, 2));
  pool.put(filled(cfg, {1, 2, 3, 7, 7}, 3));
  EXPECT_EQ(pool.contents(), (std::vector<Ids>{{1, 2, 3, 7, 7}, {1, 2, 9, 9, 9}, {1, 2, 3, 4}}));

  // Diverges inside the third cache after 4 tokens: those rows are copied, the branch stays.
  auto a = pool.acquire(Ids{1, 2, 3, 7, 5});
  EXPECT_EQ(a.reused, 4);
  EXPECT_EQ(a.cache->tokens(), (Ids{1, 2, 3, 7}));
  EXPECT_EQ(a.cache->capacity(), cfg.n_ctx);
  EXPECT_TRUE(rows_of(cfg, *a.cache, 4, 3));
  EXPECT_EQ(pool.contents().size(), 3u);
  EXPECT_EQ(pool.contents()[0], (Ids{1, 2, 3, 7, 7}));  // used: now the most recent

  // Wholly a prefix of the prompt (a conversation going on): handed over, not copied.
  auto b = pool.acquire(Ids{1, 2, 3, 4, 5, 6});
  EXPECT_EQ(b.reused, 4);
  EXPECT_EQ(b.cache->tokens(), (Ids{1, 2, 3, 4}));
  EXPECT_TRUE(rows_of(cfg, *b.cache, 4, 1));
  EXPECT_EQ(pool.contents(), (std::vector<Ids>{{1, 2, 3, 7, 7}, {1, 2, 9, 9, 9}}));

  // Equal matches: the most recently used one.
  pool.put(filled(cfg, {5, 6, 7}, 4));
  pool.put(filled(cfg, {5, 6, 8}, 5));
  auto c = pool.acquire(Ids{5, 6, 1});
  EXPECT_EQ(c.reused, 2);
  EXPECT_TRUE(rows_of(cfg, *c.cache, 2, 5));
  pool.put(filled(cfg, {5, 6, 7, 1}, 6));  // contains {5,6,7}, which becomes blank memory
  auto d = pool.acquire(Ids{5, 6, 9});
  EXPECT_TRUE(rows_of(cfg, *d.cache, 2, 6));

  // The prompt itself pooled: its last token is still left to compute.
  pool.put(filled(cfg, {20, 21, 22}, 7));
  auto e = pool.acquire(Ids{20, 21, 22});
  EXPECT_EQ(e.reused, 2);
  EXPECT_EQ(e.cache->tokens(), (Ids{20, 21}));
  auto f = pool.acquire(Ids{20});
  EXPECT_EQ(f.reused, 0);
  EXPECT_EQ(f.cache->size(), 0);

  // Nothing shared: a blank cache at the pool's capacity.
  auto g = pool.acquire(Ids{42, 43});
  EXPECT_EQ(g.reused, 0);
  EXPECT_EQ(g.cache->size(), 0);
  EXPECT_EQ(g.cache->capacity(), cfg.n_ctx);
  const PrefixCacheStats s = pool.stats();
  EXPECT_EQ(s.lookups, 7u);
  EXPECT_EQ(s.hits, 5u);
  EXPECT_EQ(s.reused_tokens, 4u + 4 + 2 + 2 + 2);
  EXPECT_EQ(s.prompt_tokens, 5u + 6 + 3 + 3 + 3 + 1 + 2);
}

TEST(PrefixCachePool, EvictsTheLeastRecentlyUsed) {
  const ModelConfig cfg = pool_cfg();
  PrefixCachePool pool(cfg, cfg.n_ctx, 3);
  pool.put(filled(cfg, {1, 1, 1}, 1));
  pool.put(filled(cfg, {2, 2, 2}, 2));
  pool.put(filled(cfg, {3, 3, 3}, 3));
  pool.put(filled(cfg, {4, 4, 4}, 4));  // over 3: {1,1,1} goes
  EXPECT_EQ(pool.contents(), (std::vector<Ids>{{4, 4, 4}, {3, 3, 3}, {2, 2, 2}}));
  EXPECT_EQ(pool.stats().evictions, 1u);
  // A copy from {2,2,2} makes it the most recent; the pool is full, so the copy's memory is the
  // least recently used cache's ({3,3,3}), not a new allocation.
  auto a = pool.acquire(Ids{2, 2, 5});
  EXPECT_EQ(a.reused, 2);
  EXPECT_TRUE(rows_of(cfg, *a.cache, 2, 2));
  EXPECT_EQ(pool.stats().allocations, 0u);
  EXPECT_EQ(pool.contents(), (std::vector<Ids>{{2, 2, 2}, {4, 4, 4}}));
  a.cache->mutable_tokens().push_back(5);  // as a sequence would have extended it
  pool.put(std::move(a.cache));            // {2,2,5}: three again
  pool.put(filled(cfg, {6, 6}, 6));        // {4,4,4} goes, though put after {2,2,2}
  EXPECT_EQ(pool.contents(), (std::vector<Ids>{{6, 6}, {2, 2, 5}, {2, 2, 2}}));
  EXPECT_EQ(pool.stats().evictions, 2u);
  // A cache of another capacity is not pooled.
  pool.put(std::make_unique<KVCache>(cfg, 32));
  EXPECT_EQ(pool.contents().size(), 3u);
}

TEST(PrefixCachePool, RedundantCachesBecomeBlankMemory) {
  const ModelConfig cfg = pool_cfg();
  PrefixCachePool pool(cfg, cfg.n_ctx, 4);
  pool.put(filled(cfg, {1, 2, 3, 4}, 1));
  pool.put(filled(cfg, {1, 2, 3}, 2));  // contained in {1,2,3,4}
  auto has = [&](const Ids& t) {
    const auto c = pool.contents();
    return (int)std::count(c.begin(), c.end(), t);
  };
  EXPECT_EQ(has({1, 2, 3, 4}), 1);
  EXPECT_EQ(has({}), 1);
  pool.put(filled(cfg, {1, 2, 3, 4, 5}, 3));  // contains {1,2,3,4}
  EXPECT_EQ(has({1, 2, 3, 4, 5}), 1);
  EXPECT_EQ(has({1, 2, 3, 4}), 0);
  EXPECT_EQ(has({}), 2);
  auto a = pool.acquire(Ids{9, 9});  // recycles a blank cache, no allocation
  EXPECT_EQ(pool.stats().allocations, 0u);
  EXPECT_EQ(has({}), 1);
  pool.put(filled(cfg, {7}, 4));
  pool.put(filled(cfg, {8}, 5));
  pool.put(filled(cfg, {9}, 6));  // five: the blank one goes before any content
  EXPECT_EQ(has({}), 0);
  EXPECT_EQ(has({1, 2, 3, 4, 5}), 1);
}

TEST(PrefixCachePool, ZeroSlotsDisablesReuse) {
  const ModelConfig cfg = pool_cfg();
  PrefixCachePool pool(cfg, cfg.n_ctx, 0);
  pool.put(filled(cfg, {1, 2, 3}, 1));
  EXPECT_TRUE(pool.contents().empty());
  auto a = pool.acquire(Ids{1, 2, 3, 4});
  EXPECT_EQ(a.reused, 0);
  EXPECT_EQ(a.cache->size(), 0);
  EXPECT_EQ(pool.stats().allocations, 1u);
  EXPECT_EQ(pool.stats().hits, 0u);
}

// ---- Through the Scheduler -------------------------------------------------------------------

struct Served {
  Ids generated;
  std::vector<double> logprobs;
  int cached = 0;
};

Served serve_one(Scheduler& s, const Ids& prompt, int max_tokens) {
  GenerateRequest g;
  g.prompt = prompt;
  g.max_tokens = max_tokens;
  g.sampling.temperature = 0.0f;
  g.top_logprobs = 0;
  auto j = std::make_shared<Job>(std::move(g));
  s.submit(j);
  j->wait_done();
  EXPECT_EQ(j->error(), "");
  Served r;
  r.generated = j->sequence().generated();
  for (const TokenLogprob& t : j->sequence().logprobs()) r.logprobs.push_back(t.logprob);
  r.cached = j->sequence().cached_prompt_tokens();
  EXPECT_EQ(j->sequence().prompt_tokens(), (int)prompt.size());
  return r;
}

void expect_same(const Served& reused, const Served& fresh, const std::string& what) {
  EXPECT_EQ(reused.generated, fresh.generated) << what;
  ASSERT_EQ(reused.logprobs.size(), fresh.logprobs.size()) << what;
  for (size_t i = 0; i < fresh.logprobs.size(); ++i)
    EXPECT_NEAR(reused.logprobs[i], fresh.logprobs[i], 1e-4) << what << " token " << i;
  EXPECT_EQ(fresh.cached, 0) << what;
}

Ids concat(std::initializer_list<Ids> parts) {
  Ids out;
  for (const Ids& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

class SchedulerReuse : public ::testing::Test {
 protected:
  void SetUp() override {
    tok_ = std::make_unique<Tokenizer>(Tokenizer::load(test::tokenizer_dir()));
    model_ = std::make_unique<Transformer>(
        test::make_model(test::tiny_cfg("llama", tok_->vocab_size(), 2, false), 11));
  }
  Ids random_ids(int n, uint32_t seed) const {
    std::mt19937 rng(seed);
    Ids v(n);
    for (auto& x : v) x = int32_t(rng() % (uint32_t)tok_->vocab_size());
    return v;
  }
  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<Transformer> model_;
};

TEST_F(SchedulerReuse, RelatedRequestsMatchFreshOnesAndCountTheReusedPrefix) {
  const Ids base = random_ids(24, 1), a = random_ids(6, 2), b = random_ids(5, 3);
  ASSERT_NE(a[0], b[0]);
  InferenceModel im_fresh(*model_), im_reuse(*model_);
  Scheduler fresh(im_fresh, *tok_, {2, 0, 0});
  Scheduler reuse(im_reuse, *tok_, {2, 4, 0});
  auto both = [&](const Ids& prompt, int max_tokens, const std::string& what) {
    Served r = serve_one(reuse, prompt, max_tokens);
    expect_same(r, serve_one(fresh, prompt, max_tokens), what);
    return r;
  };

  const Ids A = concat({base, a});
  const Served ra = both(A, 8, "first request");
  EXPECT_EQ(ra.cached, 0);
  ASSERT_EQ(ra.generated.size(), 8u);
  // Same 24-token prefix, then another continuation.
  EXPECT_EQ(both(concat({base, b}), 8, "diverging request").cached, 24);
  // The conversation goes on: its prompt, the 8 tokens generated (the last one never fed) and
  // more. The whole cache of the first request is reused.
  const Ids C = concat({A, ra.generated, random_ids(3, 4)});
  EXPECT_EQ(both(C, 8, "next turn").cached, (int)A.size() + 8 - 1);
  // The same prompt again: all but its last token.
  EXPECT_EQ(both(A, 8, "repeated prompt").cached, (int)A.size() - 1);
  // Only the first 10 tokens in common with anything pooled.
  const Ids E = concat({Ids(base.begin(), base.begin() + 10), random_ids(9, 5)});
  ASSERT_NE(E[10], base[10]);
  EXPECT_EQ(both(E, 8, "short shared prefix").cached, 10);

  const PrefixCacheStats s = reuse.cache_stats();
  EXPECT_EQ(s.lookups, 5u);
  EXPECT_EQ(s.hits, 4u);
  EXPECT_LE(s.pooled, 4u);
  EXPECT_EQ(fresh.cache_stats().hits, 0u);
}

TEST_F(SchedulerReuse, ConcurrentConversationsMatchTheNoReuseOutputs) {
  // Five clients, each a three-turn conversation after one shared 16-token system prompt; three
  // slots and four pooled caches, so jobs queue, batch together and caches get evicted.
  constexpr int kClients = 5, kTurns = 3, kMax = 6;
  const Ids system = random_ids(16, 7);
  auto converse = [&](Scheduler& s, int client, std::vector<Served>* out) {
    Ids prompt = concat({system, random_ids(4, 100 + client)});
    for (int t = 0; t < kTurns; ++t) {
      out->push_back(serve_one(s, prompt, kMax));
      prompt = concat({prompt, out->back().generated, random_ids(3, 200 + 10 * client + t)});
    }
  };
  std::vector<std::vector<Served>> want(kClients), got(kClients);
  {
    InferenceModel im(*model_);
    Scheduler fresh(im, *tok_, {3, 0, 0});
    for (int c = 0; c < kClients; ++c) converse(fresh, c, &want[c]);
  }
  InferenceModel im(*model_);
  Scheduler reuse(im, *tok_, {3, 4, 0});
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) clients.emplace_back([&, c] { converse(reuse, c, &got[c]); });
  for (auto& t : clients) t.join();
  int cached = 0;
  for (int c = 0; c < kClients; ++c)
    for (int t = 0; t < kTurns; ++t) {
      const std::string what = "client " + std::to_string(c) + " turn " + std::to_string(t);
      expect_same(got[c][t], want[c][t], what);
      cached += got[c][t].cached;
    }
  const PrefixCacheStats s = reuse.cache_stats();
  EXPECT_EQ(s.reused_tokens, (uint64_t)cached);
  // At the very least every turn after the first finds the shared system prompt.
  EXPECT_GE(cached, kClients * (kTurns - 1) * 16);
  EXPECT_LE(s.pooled, 4u);
  std::printf("%d of %llu prompt tokens reused over %d requests\n", cached,
              (unsigned long long)s.prompt_tokens, kClients * kTurns);
}

TEST_F(SchedulerReuse, CancelledWhileQueuedNeverRuns) {
  InferenceModel im(*model_);
  Scheduler s(im, *tok_, {1, 2, 0});
  GenerateRequest g;
  g.prompt = random_ids(8, 9);
  g.max_tokens = 40;
  g.sampling.temperature = 0.0f;
  auto first = std::make_shared<Job>(g);
  auto second = std::make_shared<Job>(g);
  second->cancel();
  s.submit(first);
  s.submit(second);
  second->wait_done();
  first->wait_done();
  EXPECT_EQ(first->error(), "");
  EXPECT_EQ(first->sequence().generated().size(), 40u);
  EXPECT_EQ(second->error(), "cancelled before it started");
  EXPECT_EQ(s.cancelled_total(), 1u);
  // The first job's cache went back to the pool: the same prompt reuses all but one token.
  EXPECT_EQ(serve_one(s, g.prompt, 4).cached, 7);
}

}  // namespace
}  // namespace lmforge
