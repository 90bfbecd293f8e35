// The harness's scoring rules on hand-computed cases (eval/metrics.h, eval/task.h): ties and NaN
// in the argmax, acc_norm's division by the choice's length in characters (non-ASCII, empty
// choices), mean_stderr, word counts and weighted perplexities, the regex answer filter and exact
// match as GSM8K configures them, few-shot contexts, and task rows that must be refused with
// file, line and field.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/eval/metrics.h"
#include "lmforge/eval/task.h"

using namespace lmforge;
namespace fs = std::filesystem;

TEST(EvalMetrics, ArgmaxTakesFirstOfTiesAndNaNWins) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(argmax_first(std::vector<double>{-2, -1, -1}), 1);
  EXPECT_EQ(argmax_first(std::vector<double>{-3, nan, -1, nan}), 1);
  EXPECT_EQ(argmax_first(std::vector<double>{}), -1);
}

TEST(EvalMetrics, AccAndAccNormByCharacters) {
  // ll -4 over "ab" (2 chars) = -2; ll -6 over "abcd" = -1.5: acc picks 0, acc_norm picks 1.
  ChoiceScore s = score_choices(std::vector<double>{-4, -6}, {"ab", "abcd"}, {1});
  EXPECT_EQ(s.pred, 0);
  EXPECT_EQ(s.pred_norm, 1);
  EXPECT_EQ(s.acc, 0);
  EXPECT_EQ(s.acc_norm, 1);
  // Ties go to the lower index for both.
  s = score_choices(std::vector<double>{-2, -2}, {"x", "y"}, {0});
  EXPECT_EQ(s.pred, 0);
  EXPECT_EQ(s.pred_norm, 0);
  // Several gold indices: any counts.
  s = score_choices(std::vector<double>{-1, -3, -2}, {"a", "b", "c"}, {2, 0});
  EXPECT_EQ(s.acc, 1);
}

TEST(EvalMetrics, NonAsciiLengthIsCodePointsNotBytes) {
  EXPECT_EQ(utf8_length("Straße"), 6u);  // 7 bytes
  EXPECT_EQ(utf8_length("für"), 3u);
  EXPECT_EQ(utf8_length("日本"), 2u);
  EXPECT_EQ(utf8_length("\xff"
                        "a"),
            2u);  // an invalid byte counts one
  // "ü" is 1 character (2 bytes): -3/1 = -3 vs -4/2 = -2 -> choice 1. By bytes it would be
  // -1.5 vs -2 -> choice 0.
  ChoiceScore s = score_choices(std::vector<double>{-3, -4}, {"ü", "ab"}, {1});
  EXPECT_EQ(s.pred_norm, 1);
  EXPECT_EQ(s.acc_norm, 1);
}

TEST(EvalMetrics, EmptyChoiceDividesByZeroAsNumpyDoes) {
  // ll < 0 over 0 characters is -inf: never chosen by acc_norm.
  ChoiceScore s = score_choices(std::vector<double>{-1, -2}, {"", "a"}, {1});
  EXPECT_EQ(s.pred, 0);
  EXPECT_EQ(s.pred_norm, 1);
  // 0 / 0 is NaN, which numpy's argmax returns.
  s = score_choices(std::vector<double>{-5, 0}, {"abc", ""}, {1});
  EXPECT_EQ(s.pred_norm, 1);
}

TEST(EvalMetrics, MeanStderrIsSampleStddevOverRootN) {
  // mean 0.75, sample variance ((3 * 0.25^2) + 0.75^2) / 3 = 0.25 -> sd 0.5, / sqrt(4) = 0.25.
  EXPECT_NEAR(mean_stderr(std::vector<double>{1, 0, 1, 1}), 0.25, 1e-15);
  EXPECT_EQ(mean_stderr(std::vector<double>{1}), 0);
  // Bootstrap of the mean approaches sqrt(p(1-p)/n) (biased: no Bessel correction).
  std::vector<double> xs(400);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = i % 4 == 0;
  const double b = bootstrap_stderr(
      xs.size(),
      [&](std::span<const size_t> pick) {
        double s = 0;
        for (size_t i : pick) s += xs[i];
        return s / double(pick.size());
      },
      2000, 7);
  EXPECT_NEAR(b, std::sqrt(0.25 * 0.75 / 400), 0.0015);
}

TEST(EvalMetrics, WordsAndWeightedPerplexity) {
  EXPECT_EQ(count_words("a b"), 2);
  EXPECT_EQ(count_words("a\n\n b"), 2);
  EXPECT_EQ(count_words(" a"), 2);  // re.split gives ["", "a"]
  EXPECT_EQ(count_words(""), 1);
  std::vector<DocLogLik> docs = {{-10, 4, 20, 5}, {-6, 2, 12, 3}};
  PerplexityScores p = aggregate_perplexity(docs);
  EXPECT_NEAR(p.word_perplexity, std::exp(16.0 / 6), 1e-12);
  EXPECT_NEAR(p.byte_perplexity, std::exp(16.0 / 32), 1e-12);
  EXPECT_NEAR(p.bits_per_byte, 16.0 / 32 / std::log(2.0), 1e-12);
}

TEST(EvalMetrics, RegexFilterAsGsm8kConfiguresIt) {
  EXPECT_EQ(extract_answer("5 + 37 = 42\n#### 42", "#### (\\-?[0-9\\.\\,]+)"), "42");
  EXPECT_EQ(extract_answer("no number", "#### (\\-?[0-9\\.\\,]+)"), "[invalid]");
  // flexible-extract: two groups, the last match, its first non-empty group.
  EXPECT_EQ(extract_answer("3 apples and 12 pears", "(-?[$0-9.,]{2,})|(-?[0-9]+)", -1), "12");
  EXPECT_EQ(extract_answer("3 apples", "(-?[$0-9.,]{2,})|(-?[0-9]+)", -1), "3");
  EXPECT_EQ(extract_answer("  The answer  \n", ""), "The answer");
  EXPECT_EQ(extract_answer("x=Haus y=Hund", "[A-Z][a-z]+", 1), "Hund");  // no group: the match
  EXPECT_THROW(extract_answer("a", "("), UsageError);
}

TEST(EvalMetrics, ExactMatchNormalisation) {
  ExactMatchOptions gsm;
  gsm.regexes_to_ignore = {",", "\\$", "(?s).*#### ", "\\.$"};
  EXPECT_EQ(exact_match("1000", {"So it is\nthat much.\n#### 1,000"}, gsm), 1);
  EXPECT_EQ(exact_match("$1,000.", {"#### 1000"}, gsm), 1);
  EXPECT_EQ(exact_match("999", {"#### 1000"}, gsm), 0);
  ExactMatchOptions loose;
  loose.ignore_case = loose.ignore_punctuation = true;
  EXPECT_EQ(exact_match("Das Haus!", {"x", "das haus"}, loose), 1);
  EXPECT_EQ(exact_match("Das Haus!", {"das haus"}, ExactMatchOptions{}), 0);
}

namespace {
fs::path scratch(const std::string& name, const std::string& text) {
  const fs::path p =
      fs::temp_directory_path() / ("lmforge-evalm-" + std::to_string(getpid()) + "-" + name);
  write_file_atomic(p, text);
  return p;
}
}  // namespace

TEST(EvalTask, AliasesAndGoldShapes) {
  const fs::path f = scratch("aliases.jsonl",
                             R"({"query": "Q1", "choices": ["a", "b"], "gold": 1}
{"question": "Q2", "choices": {"text": ["x", "y", "z"], "label": ["A", "B", "C"]}, "answerKey": "C"}
{"ctx": "Q3", "endings": ["p", "q"], "label": "0"}
{"context": "Q4", "options": ["yes", "no"], "answer": "no"}
{"context": "Q5", "choices": ["a", "b", "c"], "gold": [0, 2]}
)");
  Task t = read_task(f);
  ASSERT_EQ(t.kind, TaskKind::kMultipleChoice);
  ASSERT_EQ(t.rows.size(), 5u);
  EXPECT_EQ(t.rows[0].text, "Q1");
  EXPECT_EQ(t.rows[0].gold, std::vector<int>{1});
  EXPECT_EQ(t.rows[1].gold, std::vector<int>{2});
  EXPECT_EQ(t.rows[2].gold, std::vector<int>{0});
  EXPECT_EQ(t.rows[3].gold, std::vector<int>{1});
  EXPECT_EQ(t.rows[4].gold, (std::vector<int>{0, 2}));
  EXPECT_EQ(t.rows[4].line, 5);
  EXPECT_EQ(read_task(scratch("gen.jsonl", R"({"question": "2+2?", "answer": 4})"
                                           "\n"))
                .kind,
            TaskKind::kGeneration);
  EXPECT_EQ(read_task(scratch("ppl.jsonl", R"({"text": "a doc"})"
                                           "\n"))
                .kind,
            TaskKind::kPerplexity);
}

TEST(EvalTask, MalformedRowsNameFileLineAndField) {
  struct Bad {
    const char* rows;
    int64_t line;
    const char* field;
  };
  const Bad bad[] = {
      {"{\"context\": \"a\", \"choices\": [\"x\"], \"gold\": 0}\n{\"context\": \"b\", \"choices\": "
       "[\"x\", 3], \"gold\": 0}\n",
       2, "choices[1]"},
      {"{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"gold\": 2}\n", 1, "gold"},
      {"{\"context\": \"a\", \"choices\": [\"x\", \"y\"]}\n", 1, "gold"},
      {"{\"choices\": [\"x\", \"y\"], \"gold\": 0}\n", 1, "context"},
      {"{\"context\": \"a\", \"choices\": [], \"gold\": 0}\n", 1, "choices"},
      {"{\"context\": \"a\", \"choices\": [\"x\"], \"gold\": 0}\n\n{not json\n", 3, ""},
      {"{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"label\": \"Q\"}\n", 1, "label"},
      {"{\"question\": \"a\", \"answer\": []}\n", 1, "answer"},
  };
  int i = 0;
  for (const Bad& b : bad) {
    const fs::path f = scratch("bad" + std::to_string(i++) + ".jsonl", b.rows);
    try {
      read_task(f);
      ADD_FAILURE() << "accepted: " << b.rows;
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), f.string());
      EXPECT_EQ(e.line(), b.line) << e.what();
      EXPECT_EQ(e.field(), b.field) << e.what();
    }
  }
}

TEST(EvalTask, FewShotContextsAreHarnessShaped) {
  Task t = read_task(scratch("fs.jsonl", R"({"context": "Q0", "choices": ["a0", "b0"], "gold": 0}
{"context": "Q1", "choices": ["a1", "b1"], "gold": 1}
{"context": "Q2", "choices": ["a2", "b2"], "gold": 0}
)"));
  PromptOptions o;
  EXPECT_EQ(build_contexts(t, nullptr, o)[1], "Q1");
  o.num_fewshot = 2;
  o.description = "D: ";
  const auto ctx = build_contexts(t, nullptr, o);
  // Drawn from the other two rows, never the row itself; the order is the seeded draw's.
  EXPECT_TRUE(ctx[0] == "D: Q1 b1\n\nQ2 a2\n\nQ0" || ctx[0] == "D: Q2 a2\n\nQ1 b1\n\nQ0") << ctx[0];
  EXPECT_TRUE(ctx[2] == "D: Q0 a0\n\nQ1 b1\n\nQ2" || ctx[2] == "D: Q1 b1\n\nQ0 a0\n\nQ2") << ctx[2];
  EXPECT_EQ(build_contexts(t, nullptr, o), ctx);  // same seed, same prompts
  // A separate split: its rows only.
  Task pool = read_task(scratch("pool.jsonl", R"({"context": "P", "choices": ["p"], "gold": 0}
{"context": "R", "choices": ["r", "s"], "gold": 1}
)"));
  o.description = "";
  o.target_delimiter = ": ";
  o.fewshot_delimiter = "\n";
  for (const auto& c : build_contexts(t, &pool, o))
    EXPECT_TRUE(c.rfind("P: p\nR: s\n", 0) == 0 || c.rfind("R: s\nP: p\n", 0) == 0) << c;
  o.num_fewshot = 3;
  EXPECT_THROW(build_contexts(t, nullptr, o), UsageError);  // 3 others are needed, 2 exist
}

#include "lmforge/eval/python_random.h"

// Expected values printed by CPython 3.11:
//   r = random.Random(1234); r.sample(range(10), 3), r.sample(range(10), 3),
//   r.sample(range(100), 6), r.sample(range(5), 5)  -> [7, 1, 0] [1, 0, 9] [12, 98, 45, 30, 2, 3]
//   [0, 2, 3, 1, 4];  random.Random(0).sample(range(1000), 4) -> [864, 394, 776, 911]
TEST(EvalFewShot, SampleIsCPythons) {
  PythonRandom r(1234);
  EXPECT_EQ(r.sample(10, 3), (std::vector<size_t>{7, 1, 0}));
  EXPECT_EQ(r.sample(10, 3), (std::vector<size_t>{1, 0, 9}));
  EXPECT_EQ(r.sample(100, 6), (std::vector<size_t>{12, 98, 45, 30, 2, 3}));  // the set strategy
  EXPECT_EQ(r.sample(5, 5), (std::vector<size_t>{0, 2, 3, 1, 4}));
  PythonRandom z(0);
  EXPECT_EQ(z.sample(1000, 4), (std::vector<size_t>{864, 394, 776, 911}));
}

TEST(EvalFewShot, ExamplesAreTheHarnesssDraw) {
  // A separate pool of 10 rows, seed 1234, 3 shots: rows 7, 1, 0 for the first question and
  // 1, 0, 9 for the second, as random.Random(1234).sample(docs, 3) draws them.
  std::string pool_rows, rows;
  for (int i = 0; i < 10; ++i)
    pool_rows += "{\"context\": \"P" + std::to_string(i) + "\", \"choices\": [\"c" +
                 std::to_string(i) + "\"], \"gold\": 0}\n";
  Task pool = read_task(scratch("pool10.jsonl", pool_rows));
  Task t = read_task(scratch("two.jsonl",
                             "{\"context\": \"A\", \"choices\": [\"x\"], \"gold\": 0}\n"
                             "{\"context\": \"B\", \"choices\": [\"y\"], \"gold\": 0}\n"));
  PromptOptions o;
  o.num_fewshot = 3;
  const auto ctx = build_contexts(t, &pool, o);
  EXPECT_EQ(ctx[0], "P7 c7\n\nP1 c1\n\nP0 c0\n\nA");
  EXPECT_EQ(ctx[1], "P1 c1\n\nP0 c0\n\nP9 c9\n\nB");
}
