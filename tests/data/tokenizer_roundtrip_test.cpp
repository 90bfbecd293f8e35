// Tokenizer round trips, special tokens, BPE strategy agreement, pre-tokenizer pieces and training
// determinism, all on a tokenizer trained in memory (no files from the network).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "data/tokenizer_impl.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/byte_level.h"
#include "lmforge/data/pretokenize.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/data/tokenizer_train.h"

namespace lmforge {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> corpus() {
  std::vector<std::string> docs;
  std::mt19937 rng(7);
  const char* words[] = {"the",  "quick", "brown", "fox",   "jumps",  "over", "lazy",   "dog",
                         "it's", "we're", "I'll",  "don't", "naïve",  "café", "日本語", "中文",
                         "😀",    "🚀🚀",    "12345", "3.14",  "x=y+1;", "{}",   "\t",     "\r\n"};
  for (int d = 0; d < 200; ++d) {
    std::string s;
    for (int i = 0; i < 80; ++i) {
      if (rng() % 2) {  // a pseudo-word from syllables, so there is plenty left to merge
        const char* syl[] = {"ka", "lo", "mi", "tre", "sun", "va", "qu", "ex", "ion", "ing"};
        for (int k = 0, n = 1 + rng() % 4; k < n; ++k) s += syl[rng() % 10];
      } else {
        s += words[rng() % (sizeof(words) / sizeof(words[0]))];
      }
      s += (rng() % 7 == 0) ? "\n" : " ";
    }
    docs.push_back(s);
  }
  return docs;
}

const Tokenizer& trained(SplitPattern p = SplitPattern::kGpt2) {
  static Tokenizer gpt2 = [] {
    TokenizerTrainOptions o;
    o.vocab_size = 600;
    o.progress = false;
    return train_tokenizer_from_texts(corpus(), o);
  }();
  static Tokenizer cl100k = [] {
    TokenizerTrainOptions o;
    o.vocab_size = 600;
    o.pattern = SplitPattern::kCl100k;
    o.progress = false;
    return train_tokenizer_from_texts(corpus(), o);
  }();
  return p == SplitPattern::kGpt2 ? gpt2 : cl100k;
}

std::vector<std::string> tricky_strings() {
  return {
      "",
      "Hello, world!",
      "emoji 😀👍🏽 family 👨‍👩‍👧 flags 🇫🇷",
      "CJK 日本語のテキスト 中文 한국어",
      "combining e\u0301 a\u0308\u0323 Z\u0336\u0337",
      std::string("control \x01\x02\x1b[0m\x7f and NUL ") + std::string(1, '\0') + " inside",
      std::string(5000, ' ') + "x" + std::string(3000, ' '),
      std::string(20000, '7'),
      "line one\r\nline two\r\n\r\n\n  \t indented",
      "mixed\u00a0nbsp\u2003em\u3000ideo\u180emongolian",
      "it's they're I'VE we'll she'd 'S",
      "<|endoftext|> <|im_start|>user\nhi<|im_end|>",
      "code: for (int i = 0; i < n; ++i) { x[i] += 2 * y[i]; }",
      "invalid \xff\xfe utf8 \xc3\x28 \xe2\x82 \xf0\x9f\x98 trunc \xed\xa0\x80 surrogate \xc0\xaf",
      "\xff",
      "\x80\x80\x80"};
}

TEST(TokenizerRoundTrip, TrickyStringsBothPatterns) {
  for (SplitPattern p : {SplitPattern::kGpt2, SplitPattern::kCl100k}) {
    const Tokenizer& t = trained(p);
    for (const std::string& s : tricky_strings()) {
      auto ids = t.encode(s);
      EXPECT_EQ(t.decode(ids), s) << "pattern " << static_cast<int>(p) << " text: " << s;
      for (int32_t id : ids) EXPECT_FALSE(t.impl().is_special[id]) << s;
      EXPECT_EQ(t.decode(t.encode_with_special(s)), s) << s;
    }
  }
}

TEST(TokenizerRoundTrip, LongTextCacheMatchesShortTexts) {
  // Texts >= 4 KB take the per-call cache path; cut points "\nDoc" cannot be crossed by any
  // regex match, so the long text must encode as the concatenation of its parts.
  for (SplitPattern p : {SplitPattern::kGpt2, SplitPattern::kCl100k}) {
    const Tokenizer& t = trained(p);
    std::string all;
    std::vector<int32_t> want;
    for (const auto& d : corpus()) {
      std::string part = "Doc " + d + "\n";
      ASSERT_LT(part.size(), 4096u);
      for (int32_t id : t.encode(part)) want.push_back(id);
      all += part;
    }
    ASSERT_GT(all.size(), 4096u);
    EXPECT_EQ(t.encode(all), want);
  }
}

TEST(TokenizerRoundTrip, RandomBytes) {
  const Tokenizer& t = trained();
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 300; ++trial) {
    std::string s(rng() % 200, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    ASSERT_EQ(t.decode(t.encode(s)), s) << "trial " << trial;
  }
}

TEST(TokenizerRoundTrip, LongRunsAreFast) {
  const Tokenizer& t = trained();
  const std::string digits(200000, '9'), spaces(200000, ' ');
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(t.decode(t.encode(digits)), digits);
  EXPECT_EQ(t.decode(t.encode(spaces + "a")), spaces + "a");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(s, 2.0) << "long runs must not take quadratic time";
}

TEST(TokenizerRoundTrip, InvalidBytesAreOwnPieces) {
  PreTokenizer pt(kGpt2SplitRegex);
  std::vector<std::string_view> pieces;
  pt.split(
      "ab\xff"
      "cd \xc3",
      pieces);
  ASSERT_EQ(pieces.size(), 5u);
  EXPECT_EQ(pieces[0], "ab");
  EXPECT_EQ(pieces[1], "\xff");
  EXPECT_EQ(pieces[2], "cd");
  EXPECT_EQ(pieces[3], " ");
  EXPECT_EQ(pieces[4], "\xc3");
}

TEST(TokenizerRoundTrip, Gpt2PiecesMatchTheReferenceSplit) {
  PreTokenizer pt(kGpt2SplitRegex);
  std::vector<std::string_view> pieces;
  pt.split("Hello world's  test 123abc!!\n\n x\u180e", pieces);
  std::vector<std::string> got(pieces.begin(), pieces.end());
  // U+180E is not White_Space (since Unicode 6.3): it groups with punctuation, as in tiktoken.
  std::vector<std::string> want = {"Hello", " world", "'s", " ",    " test",
                                   " 123",  "abc",    "!!", "\n\n", " x\u180e"};
  want.back() = " x";
  want.push_back("\u180e");
  EXPECT_EQ(got, want);
}

TEST(TokenizerRoundTrip, Cl100kPieces) {
  PreTokenizer pt(kCl100kSplitRegex);
  std::vector<std::string_view> pieces;
  pt.split("I'LL pay 123456 dollars!\r\n\r\nOK", pieces);
  std::vector<std::string> got(pieces.begin(), pieces.end());
  std::vector<std::string> want = {"I",   "'LL",      " pay",      " ", "123",
                                   "456", " dollars", "!\r\n\r\n", "OK"};
  EXPECT_EQ(got, want);
}

TEST(TokenizerRoundTrip, WhitespaceExpansionKeepsClassesValid) {
  EXPECT_EQ(expand_whitespace_escapes(R"(a\sb)").find("\\s"), std::string::npos);
  EXPECT_EQ(expand_whitespace_escapes(R"(\\s)"), R"(\\s)");  // an escaped backslash, then 's'
  EXPECT_NO_THROW(PreTokenizer(expand_whitespace_escapes(R"([^\s\p{L}]+|\S+|[]\s])")));
}

TEST(TokenizerRoundTrip, SpecialTokensOnlyWithEncodeWithSpecial) {
  const Tokenizer& t = trained();
  const int32_t eot = t.eot_id();
  ASSERT_TRUE(t.special_id("<|im_start|>"));
  ASSERT_TRUE(t.special_id("<|im_end|>"));
  EXPECT_EQ(t.vocab_size(), 600);
  EXPECT_EQ(eot, 597);  // specials come last, <|endoftext|> first among them
  auto plain = t.encode("a<|endoftext|>b");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
  auto special = t.encode_with_special("a<|endoftext|>b<|im_start|><|im_end|>");
  std::vector<int32_t> want = t.encode("a");
  want.push_back(eot);
  for (int32_t id : t.encode("b")) want.push_back(id);
  want.push_back(*t.special_id("<|im_start|>"));
  want.push_back(*t.special_id("<|im_end|>"));
  EXPECT_EQ(special, want);
  EXPECT_EQ(t.decode(special), "a<|endoftext|>b<|im_start|><|im_end|>");
  EXPECT_THROW(t.token_bytes(600), RuntimeError);
  EXPECT_THROW(t.token_bytes(-1), RuntimeError);
}

TEST(TokenizerRoundTrip, HeapAndSimpleMergeAgree) {
  const Tokenizer& t = trained();
  std::mt19937 rng(99);
  const std::string alphabet = "the quick brown fox 123 ";
  for (int trial = 0; trial < 500; ++trial) {
    std::string s(1 + rng() % 90, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    std::vector<int32_t> a, b;
    bpe_merge_simple(t.impl(), s, a);
    bpe_merge_heap(t.impl(), s, b);
    ASSERT_EQ(a, b) << s;
  }
}

TEST(TokenizerRoundTrip, TrainingIsDeterministicAcrossThreadCounts) {
  fs::path dir = fs::temp_directory_path() / ("lmforge_tok_det_" + std::to_string(getpid()));
  std::string text;
  for (const auto& d : corpus()) text += d + "\n\n";
  write_file_atomic(dir / "corpus.txt", text);
  std::string prev;
  for (int threads : {1, 2, 1}) {
    TokenizerTrainOptions o;
    o.vocab_size = 700;
    o.threads = threads;
    o.progress = false;
    Tokenizer t = train_tokenizer({dir / "corpus.txt"}, o);
    t.save(dir / "out");
    std::string json = read_file(dir / "out" / "tokenizer.json");
    if (!prev.empty()) {
      EXPECT_EQ(json, prev) << "threads " << threads;
    }
    prev = json;
  }
  fs::remove_all(dir);
}

TEST(TokenizerRoundTrip, TrainsOnJsonlAndReportsBadLines) {
  fs::path dir = fs::temp_directory_path() / ("lmforge_tok_jsonl_" + std::to_string(getpid()));
  std::string jsonl;
  for (const auto& d : corpus()) jsonl += nlohmann::json({{"text", d}}).dump() + "\n";
  write_file_atomic(dir / "a.jsonl", jsonl);
  TokenizerTrainOptions o;
  o.vocab_size = 500;
  o.progress = false;
  Tokenizer t = train_tokenizer({dir}, o);  // a directory contributes its .jsonl files
  EXPECT_EQ(t.vocab_size(), 500);
  EXPECT_EQ(t.content_hash(), train_tokenizer_from_texts(corpus(), o).content_hash());
  write_file_atomic(dir / "a.jsonl", "{\"text\": \"ok\"}\n\n{\"txt\": \"no\"}\n");
  try {
    train_tokenizer({dir / "a.jsonl"}, o);
    ADD_FAILURE() << "no error for a line without text";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              (dir / "a.jsonl").string() + ":3: field 'text': missing or not a string");
  }
  write_file_atomic(dir / "a.jsonl", "{\"text\": \"ok\"}\n{\"text\": \n");
  try {
    train_tokenizer({dir / "a.jsonl"}, o);
    ADD_FAILURE() << "no error for broken JSON";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "a.jsonl").string() +
                                         ":2: not valid JSON (hint: each line must be one JSON "
                                         "object such as {\"text\": \"...\"})");
  }
  o.vocab_size = 258;
  EXPECT_THROW(train_tokenizer_from_texts(corpus(), o), UsageError);
  fs::remove_all(dir);
}

TEST(TokenizerRoundTrip, SaveLoadRoundTrip) {
  fs::path dir = fs::temp_directory_path() / ("lmforge_tok_save_" + std::to_string(getpid()));
  for (SplitPattern p : {SplitPattern::kGpt2, SplitPattern::kCl100k}) {
    const Tokenizer& t = trained(p);
    t.save(dir);
    Tokenizer u = Tokenizer::load(dir);
    EXPECT_EQ(u.content_hash(), t.content_hash());
    EXPECT_EQ(u.vocab_size(), t.vocab_size());
    EXPECT_EQ(u.split_pattern(), p);
    EXPECT_EQ(u.special_tokens(), t.special_tokens());
    for (const std::string& s : tricky_strings()) EXPECT_EQ(u.encode(s), t.encode(s)) << s;
    // Saving what was loaded gives the same bytes (no drift across generations).
    std::string first = read_file(dir / "tokenizer.json");
    u.save(dir);
    EXPECT_EQ(read_file(dir / "tokenizer.json"), first);
  }
  EXPECT_NE(trained(SplitPattern::kGpt2).content_hash(),
            trained(SplitPattern::kCl100k).content_hash());
  fs::remove_all(dir);
}

TEST(TokenizerRoundTrip, ByteLevelTable) {
  EXPECT_EQ(bytes_to_byte_level(" hello\n"), "\u0120hello\u010a");
  for (int b = 0; b < 256; ++b) {
    std::string s(1, static_cast<char>(b));
    EXPECT_EQ(byte_level_to_bytes(bytes_to_byte_level(s)), s);
  }
  EXPECT_FALSE(byte_level_to_bytes("\u4e2d"));
  EXPECT_EQ(byte_level_order()[0], '!');
  EXPECT_EQ(byte_level_order()[188], 0);
}

}  // namespace
}  // namespace lmforge
