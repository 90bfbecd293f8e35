// Log-likelihood scoring on the KV-cached forward (eval/loglik.h), on tiny GPT-2 and Llama models:
// the harness's token split of (context, continuation), shared-context scoring equal to scoring
// each choice on its own to 1e-5 (multi-token, one-token and empty continuations, groups of many
// questions, a question too long for the window), the plain way equal to log-softmax of the
// training forward's logits, and rolling perplexity windows equal to explicit window forwards.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lmforge/eval/loglik.h"
#include "support/tiny_model.h"

using namespace lmforge;

namespace {

std::vector<QuestionIds> random_questions(int n, int V, uint64_t seed, int max_ctx, int max_cont) {
  std::mt19937_64 rng(seed);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<QuestionIds> qs(n);
  for (auto& q : qs) {
    q.context.resize(r(1, max_ctx));
    for (auto& t : q.context) t = r(0, V - 1);
    const int k = r(1, 5);
    for (int c = 0; c < k; ++c) {
      std::vector<int32_t> cont(r(c == 3 ? 0 : 1, max_cont));  // the 4th choice may be empty
      for (auto& t : cont) t = r(0, V - 1);
      q.continuations.push_back(cont);
    }
  }
  return qs;
}

class EvalLogLik : public ::testing::TestWithParam<const char*> {};

}  // namespace

TEST_P(EvalLogLik, SharedContextEqualsEachChoiceAlone) {
  Tokenizer tok = Tokenizer::load(test::tokenizer_dir());
  Transformer m = test::make_model(test::tiny_cfg(GetParam(), tok.vocab_size()), 11);
  InferenceModel infer(m);
  LogLikScorer scorer(infer);
  auto qs = random_questions(40, tok.vocab_size(), 5, 30, 12);
  // One question longer than the 64-token window: scored the plain way, left-truncated.
  qs[7].context.assign(60, 3);
  const auto shared = scorer.score(qs);
  ASSERT_EQ(shared.size(), qs.size());
  for (size_t q = 0; q < qs.size(); ++q) {
    ASSERT_EQ(shared[q].size(), qs[q].continuations.size());
    for (size_t c = 0; c < qs[q].continuations.size(); ++c) {
      const ContinuationScore alone = scorer.score_separate(qs[q].context, qs[q].continuations[c]);
      EXPECT_NEAR(shared[q][c].ll, alone.ll, 1e-5) << "question " << q << " choice " << c;
      EXPECT_EQ(shared[q][c].greedy, alone.greedy);
      if (qs[q].continuations[c].empty())
        EXPECT_EQ(shared[q][c].ll, 0.0);
      else
        EXPECT_LT(shared[q][c].ll, 0.0);
    }
  }
}

TEST_P(EvalLogLik, PlainScoringIsLogSoftmaxOfTheTrainingForward) {
  Tokenizer tok = Tokenizer::load(test::tokenizer_dir());
  const int V = tok.vocab_size();
  Transformer m = test::make_model(test::tiny_cfg(GetParam(), V), 12);
  InferenceModel infer(m);
  LogLikScorer scorer(infer);
  const std::vector<int32_t> ctx = {5, 9, 14, 2}, cont = {7, 7, 30};
  std::vector<int32_t> ids = ctx;
  ids.insert(ids.end(), cont.begin(), cont.end() - 1);
  const int T = (int)ids.size();
  const float* logits = m.forward_logits(ids.data(), 1, T);
  double want = 0;
  for (size_t j = 0; j < cont.size(); ++j) {
    const float* row = logits + (ctx.size() - 1 + j) * V;
    double mx = row[0], sum = 0;
    for (int v = 0; v < V; ++v) mx = std::max(mx, double(row[v]));
    for (int v = 0; v < V; ++v) sum += std::exp(row[v] - mx);
    want += row[cont[j]] - mx - std::log(sum);
  }
  EXPECT_NEAR(scorer.score_separate(ctx, cont).ll, want, 2e-5);
}

TEST_P(EvalLogLik, RollingWindowsAreTheHarnessWindows) {
  Tokenizer tok = Tokenizer::load(test::tokenizer_dir());
  Transformer m = test::make_model(test::tiny_cfg(GetParam(), tok.vocab_size()), 13);
  InferenceModel infer(m);
  const int W = 16;
  LogLikScorer scorer(infer, W);
  std::vector<int32_t> doc(37);
  for (size_t i = 0; i < doc.size(); ++i) doc[i] = int32_t((i * 7 + 3) % tok.vocab_size());
  // Windows of 16: [prefix + doc[0..15)] predicts doc[0..16); doc[0..16) predicts doc[16..32);
  // then the last 16 tokens before doc[37) predict doc[32..37), i.e. input doc[20..36).
  // score_separate keeps (context + continuation)[-(W+1):][:-1] as input, so each window is
  // one call with the whole document before it as context.
  const int32_t P = 1;
  double want = scorer.score_separate(std::vector<int32_t>{P}, std::span(doc).first(16)).ll;
  want += scorer.score_separate(std::span(doc).first(16), std::span(doc).subspan(16, 16)).ll;
  want += scorer.score_separate(std::span(doc).first(32), std::span(doc).subspan(32, 5)).ll;
  EXPECT_NEAR(scorer.rolling(doc, P), want, 1e-4);
  // A document that fits one window is one forward from the prefix token.
  const std::vector<int32_t> small(doc.begin(), doc.begin() + 10);
  EXPECT_NEAR(scorer.rolling(small, P), scorer.score_separate(std::vector<int32_t>{P}, small).ll,
              1e-5);
  EXPECT_EQ(scorer.rolling({}, P), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Families, EvalLogLik, ::testing::Values("gpt2", "llama"));

TEST(EvalEncode, ContextSplitAsTheHarness) {
  Tokenizer tok = Tokenizer::load(test::tokenizer_dir());
  const int32_t P = prefix_token(tok);
  EncodedRequest r = encode_request(tok, "The cat sat on the", " mat", P);
  EXPECT_EQ(r.context, tok.encode("The cat sat on the"));
  std::vector<int32_t> whole = r.context;
  whole.insert(whole.end(), r.continuation.begin(), r.continuation.end());
  EXPECT_EQ(whole, tok.encode("The cat sat on the mat"));
  // Trailing spaces of the context move to the continuation.
  EncodedRequest t = encode_request(tok, "Answer: ", "yes", P);
  EXPECT_EQ(t.context, tok.encode("Answer:"));
  whole = t.context;
  whole.insert(whole.end(), t.continuation.begin(), t.continuation.end());
  EXPECT_EQ(whole, tok.encode("Answer: yes"));
  // An empty context is the prefix token; an empty continuation has no tokens.
  EncodedRequest e = encode_request(tok, "", " mat", P);
  EXPECT_EQ(e.context, std::vector<int32_t>{P});
  EXPECT_EQ(e.continuation, tok.encode(" mat"));
  EXPECT_TRUE(encode_request(tok, "abc", "", P).continuation.empty());
}
