// Supervised examples: prompt tokens never become targets, the completion and EOS do; fitting to
// the context (truncate with counts, or an error naming file:line:field); packed rows keep whole
// examples with positions restarting at each one, and a packed row scores exactly what the same
// examples score in separate rows (attention never crosses an example); padding; exact resume;
// the validation split.
#include "lmforge/train/sft_data.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "lmforge/core/error.h"
#include "support/tiny_corpus.h"

using namespace lmforge;

namespace {

SftExample make(int64_t line, int prompt, int completion, int32_t base = 10) {
  SftExample e;
  e.line = line;
  for (int i = 0; i < prompt; ++i) e.ids.push_back(base + i), e.mask.push_back(0);
  for (int i = 0; i < completion; ++i) e.ids.push_back(base + 50 + i), e.mask.push_back(1);
  e.prompt_tokens = prompt;
  return e;
}

}  // namespace

TEST(SftData, PromptIsContextCompletionAndEosAreTargets) {
  auto docs = test_data::tiny_documents(50, 3);
  Tokenizer tok = test_data::tiny_tokenizer(docs, 300);
  const int32_t eos = tok.eot_id();
  SftExample e = encode_prompt_completion(tok, {"the cat sees", " the fish.", 7}, eos);
  const auto p = tok.encode("the cat sees"), c = tok.encode(" the fish.");
  ASSERT_EQ(e.ids.size(), p.size() + c.size() + 1);
  EXPECT_EQ(e.prompt_tokens, static_cast<int64_t>(p.size()));
  EXPECT_EQ(e.ids.back(), eos);
  EXPECT_EQ(e.line, 7);
  for (size_t i = 0; i < e.ids.size(); ++i) EXPECT_EQ(e.mask[i], i >= p.size()) << i;
  // As rows: the targets are exactly the completion tokens and EOS, each at the position before.
  std::vector<int32_t> ids(32), tg(32, -99), pos(32);
  const int n = place_example(e, ids.data(), tg.data(), pos.data(), 0);
  EXPECT_EQ(n, static_cast<int>(e.ids.size()) - 1);
  for (int t = 0; t < n; ++t) {
    EXPECT_EQ(ids[t], e.ids[t]);
    EXPECT_EQ(pos[t], t);
    EXPECT_EQ(tg[t], t + 1 >= static_cast<int>(p.size()) ? e.ids[t + 1] : -1) << t;
  }
}

TEST(SftData, FitTruncatesOrRefuses) {
  // Line 2 (14 tokens) keeps only prompt in 10: dropped; line 3 (11 tokens) keeps one target.
  std::vector<SftExample> again = {make(1, 3, 3), make(2, 10, 4), make(3, 9, 2)};
  FitReport r = fit_examples(again, 10, OnOverflow::kTruncate, "t.jsonl", "completion");
  EXPECT_EQ(r.truncated, 2);
  EXPECT_EQ(r.dropped, 1);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[1].line, 3);
  EXPECT_EQ(again[1].ids.size(), 10u);
  EXPECT_EQ(again[1].mask.back(), 1);
  std::vector<SftExample> bad = {make(1, 3, 3), make(5, 10, 4)};
  try {
    fit_examples(bad, 10, OnOverflow::kError, "t.jsonl", "completion");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "t.jsonl");
    EXPECT_EQ(e.line(), 5);
    EXPECT_EQ(e.field(), "completion");
  }
}

TEST(SftData, PackedRowsKeepExamplesWholeWithRestartingPositions) {
  std::vector<SftExample> ex;
  for (int i = 0; i < 9; ++i) ex.push_back(make(i + 1, 2 + i % 3, 2 + i % 2, 10 + i));
  const int B = 2, T = 12;
  SftBatchSource src(ex, B, T, /*pack=*/true, /*pad=*/0, 5);
  std::multiset<int32_t> first_ids_seen;
  for (int batch = 0; batch < 3; ++batch) {
    std::vector<int32_t> ids(B * T), tg(B * T);
    src.next(ids.data(), tg.data());
    const int32_t* pos = src.positions();
    ASSERT_NE(pos, nullptr);
    for (int b = 0; b < B; ++b) {
      EXPECT_EQ(pos[b * T], 0);
      for (int t = 0; t < T; ++t) {
        const int i = b * T + t;
        if (pos[i] == 0 && ids[i] != 0) first_ids_seen.insert(ids[i]);
        if (t > 0) {
          EXPECT_TRUE(pos[i] == 0 || pos[i] == pos[i - 1] + 1);
        }
        // Every target is a completion token (>= 60), never a prompt token or padding.
        if (tg[i] >= 0) {
          EXPECT_GE(tg[i], 60);
        }
        if (ids[i] == 0) {
          EXPECT_EQ(tg[i], -1);
        }
      }
    }
  }
  // 3 batches consumed exactly position() examples, each starting once.
  EXPECT_EQ(static_cast<int64_t>(first_ids_seen.size()), src.position());
  EXPECT_GT(src.position(), 3 * B);  // more than one example per row
  EXPECT_LE(src.rows_per_epoch(), 9);
}

TEST(SftData, PackedRowScoresLikeSeparateRows) {
  ModelConfig c = ModelConfig::preset("tiny", 128);
  c.n_layer = 2;
  c.n_embd = 32;
  c.n_head = c.n_kv_head = 2;
  c.head_dim = 16;
  c.ffn_hidden = 64;
  c.n_ctx = 16;
  c.validate();
  Transformer m(c);
  m.init_weights(3);
  std::vector<SftExample> ex = {make(1, 3, 3, 10), make(2, 2, 4, 20)};  // 5 + 5 columns
  const int T = 10;
  SftBatchSource packed(ex, 1, T, true, 0, 1);
  std::vector<int32_t> ids(T), tg(T);
  packed.next(ids.data(), tg.data());
  ASSERT_EQ(packed.position(), 2);
  m.forward(ids.data(), tg.data(), 1, T, packed.positions());
  std::vector<float> lp(m.last_losses(), m.last_losses() + T);
  double packed_sum = 0;
  for (float x : lp) packed_sum += x;
  double sep_sum = 0;
  for (const auto& e : ex) {
    std::vector<int32_t> i2(T, 0), t2(T, -1);
    place_example(e, i2.data(), t2.data(), nullptr, 0);
    m.forward(i2.data(), t2.data(), 1, T);
    for (int t = 0; t < T; ++t) sep_sum += m.last_losses()[t];
  }
  EXPECT_NEAR(packed_sum, sep_sum, 1e-4 * std::abs(sep_sum));
  // Without positions the second example would see the first: the losses differ.
  m.forward(ids.data(), tg.data(), 1, T);
  double crossed = 0;
  for (int t = 0; t < T; ++t) crossed += m.last_losses()[t];
  EXPECT_GT(std::abs(crossed - sep_sum), 1e-3);
}

TEST(SftData, PaddingAndExactResume) {
  std::vector<SftExample> ex;
  for (int i = 0; i < 7; ++i) ex.push_back(make(i + 1, 2, 2, 10 + i));
  SftBatchSource pad(ex, 3, 8, false, 0, 9);
  std::vector<int32_t> ids(24), tg(24);
  pad.next(ids.data(), tg.data());
  EXPECT_EQ(pad.positions(), nullptr);
  EXPECT_EQ(pad.position(), 3);
  EXPECT_EQ(pad.rows_per_epoch(), 7);
  // A fresh source set to a position continues exactly (across the epoch boundary too).
  SftBatchSource a(ex, 3, 8, true, 0, 9), b(ex, 3, 8, true, 0, 9);
  std::vector<int32_t> ia(24), ta(24), ib(24), tb(24);
  a.next(ia.data(), ta.data());
  b.set_position(a.position());
  for (int k = 0; k < 4; ++k) {
    a.next(ia.data(), ta.data());
    b.next(ib.data(), tb.data());
    EXPECT_EQ(ia, ib);
    EXPECT_EQ(ta, tb);
  }
}

TEST(SftData, ValidationSplitIsDeterministic) {
  std::vector<SftExample> all;
  for (int i = 0; i < 100; ++i) all.push_back(make(i + 1, 2, 2));
  auto t1 = all, t2 = all;
  std::vector<SftExample> v1, v2;
  split_validation(t1, v1, 0.1, 4);
  split_validation(t2, v2, 0.1, 4);
  ASSERT_EQ(v1.size(), v2.size());
  EXPECT_GT(v1.size(), 2u);
  EXPECT_LT(v1.size(), 25u);
  EXPECT_EQ(t1.size() + v1.size(), 100u);
  for (size_t i = 0; i < v1.size(); ++i) EXPECT_EQ(v1[i].line, v2[i].line);
  std::vector<SftExample> two = {make(1, 2, 2), make(2, 2, 2)}, v;
  split_validation(two, v, 0.01, 1);
  EXPECT_EQ(two.size(), 1u);
  EXPECT_EQ(v.size(), 1u);
}
