// Replay of general text in the supervised stages (train/sft_replay.h): the share and placement of
// replay rows, that they are plain windows of the general data with every token a target, an
// exact resume from a row count, and the checks on --replay (ratio, tokenizer).
#include "lmforge/train/sft_replay.h"

#include <gtest/gtest.h>

#include "lmforge/core/error.h"
#include "support/tiny_corpus.h"

using namespace lmforge;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  fs::path dir;
  Tokenizer tok;
  std::vector<SftExample> examples;
};

Fixture make(const std::string& name) {
  auto docs = test_data::tiny_documents(200, 3);
  Fixture f{test_data::temp_dir(name), test_data::tiny_tokenizer(docs, 300), {}};
  test_data::write_tiny_data(f.dir / "general", f.tok, docs);
  // Supervised examples: prompt 1 2 x, answer 7 7 (masked prompt, so never a plain-text row).
  for (int i = 0; i < 40; ++i) {
    SftExample e;
    e.ids = {1, 2, int32_t(3 + i % 4), 7, 7};
    e.mask = {0, 0, 0, 1, 1};
    e.line = i + 1;
    f.examples.push_back(e);
  }
  return f;
}

// A replay row is one text window: positions 0..T-1, the last `k` targets the next inputs, the
// others masked (example rows restart positions every 4 tokens).
bool is_replay_row(const int32_t* ids, const int32_t* targets, const int32_t* pos, int T, int k) {
  for (int t = 0; t < T; ++t) {
    if (pos[t] != t) return false;
    if (t + 1 < T && (t >= T - k ? targets[t] != ids[t + 1] : targets[t] != -1)) return false;
  }
  return true;
}

}  // namespace

TEST(SftReplay, ShareOfRowsIsTheRatioAndRowsArePlainGeneralText) {
  Fixture f = make("sft-replay-share");
  const int B = 4, T = 16;
  auto ds = open_sft_replay({f.dir / "general", 0.25}, f.tok.content_hash(), T);
  ASSERT_TRUE(ds.has_value());
  SftBatchSource sft(f.examples, B, T, true, 0, 7);
  ReplaySftSource src(sft, *ds, 0.25, B, T, 5, 7);
  std::vector<int32_t> ids(B * T), targets(B * T);
  int replay = 0, rows = 0;
  for (int step = 0; step < 10; ++step) {
    src.next(ids.data(), targets.data());
    for (int b = 0; b < B; ++b, ++rows) {
      const bool r =
          is_replay_row(ids.data() + b * T, targets.data() + b * T, src.positions() + b * T, T, 5);
      EXPECT_EQ(r, (rows + 1) % 4 == 0) << "row " << rows;  // every 4th row at 0.25
      replay += r;
    }
  }
  EXPECT_EQ(replay, 10);
  EXPECT_EQ(src.position(), 40);
  EXPECT_EQ(src.rows_for(30), 40);
}

TEST(SftReplay, ResumeFromTheRowCountContinuesExactly) {
  Fixture f = make("sft-replay-resume");
  const int B = 3, T = 16;
  auto ds = open_sft_replay({f.dir / "general", 0.3}, f.tok.content_hash(), T);
  SftBatchSource a_sft(f.examples, B, T, true, 0, 9), b_sft(f.examples, B, T, true, 0, 9);
  ReplaySftSource a(a_sft, *ds, 0.3, B, T, 4, 9), b(b_sft, *ds, 0.3, B, T, 4, 9);
  std::vector<int32_t> ids(B * T), targets(B * T), ids2(B * T), targets2(B * T);
  for (int step = 0; step < 7; ++step) a.next(ids.data(), targets.data());
  b.set_position(a.position());
  for (int step = 0; step < 5; ++step) {
    a.next(ids.data(), targets.data());
    b.next(ids2.data(), targets2.data());
    EXPECT_EQ(ids, ids2) << "step " << step;
    EXPECT_EQ(targets, targets2) << "step " << step;
  }
}

TEST(SftReplay, BadRatioAndOtherTokenizerAreRefused) {
  Fixture f = make("sft-replay-bad");
  EXPECT_THROW(open_sft_replay({f.dir / "general", 1.0}, f.tok.content_hash(), 16), UsageError);
  EXPECT_THROW(open_sft_replay({f.dir / "general", 0.0}, f.tok.content_hash(), 16), UsageError);
  try {
    open_sft_replay({f.dir / "general", 0.25}, "0123456789abcdef", 16);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "tokenizer_hash");
    EXPECT_NE(e.file().find("manifest.json"), std::string::npos);
  }
  EXPECT_FALSE(open_sft_replay({"", 0.25}, "x", 16).has_value());
}
