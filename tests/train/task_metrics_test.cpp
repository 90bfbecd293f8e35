// Task metrics against values worked out by hand from the definitions (sacreBLEU's chrF and BLEU,
// rouge_score's ROUGE-L); each expected number is derived in the comment above it.
#include "lmforge/train/task_metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "lmforge/core/error.h"

using namespace lmforge;
using S = std::vector<std::string>;

TEST(TaskMetrics, ExactMatchTrimsWhitespace) {
  EXPECT_DOUBLE_EQ(exact_match({" a \n", "b", "abc"}, {"a", "c", "ab"}), 1.0 / 3);
  EXPECT_DOUBLE_EQ(contains_answer({"it is Paris.", "no"}, {" Paris", "yes"}), 0.5);
  EXPECT_THROW(exact_match({"a"}, {}), RuntimeError);
}

TEST(TaskMetrics, TokenAccuracyIsPositionWise) {
  // ref lengths 3 + 2 = 5; matches: 2 (positions 0, 2) + 0 (hyp too short) = 2.
  EXPECT_DOUBLE_EQ(token_accuracy({{1, 9, 3, 4}, {}}, {{1, 2, 3}, {5, 6}}), 2.0 / 5);
}

TEST(TaskMetrics, ChrfByHand) {
  // hyp "ab", ref "abc": 1-grams 2 hyp / 3 ref / 2 match, 2-grams 1 / 2 / 1, 3-grams 0 / 1 (not
  // counted: no hypothesis n-grams). P = (1 + 1)/2 = 1, R = (2/3 + 1/2)/2 = 7/12,
  // F2 = 5·P·R / (4P + R) = (35/12) / (55/12) = 7/11.
  EXPECT_NEAR(chrf({"ab"}, {"abc"}), 100.0 * 7 / 11, 1e-9);
  // Whitespace is removed before counting; identical text scores 100.
  EXPECT_NEAR(chrf({"a b c"}, {"abc"}), 100.0, 1e-9);
  EXPECT_NEAR(chrf({"xyz"}, {"abc"}), 0.0, 1e-12);
  // Code points, not bytes: "é" vs "e" shares nothing, "éa" vs "éb" shares the 1-gram "é":
  // P = R = (1/2 + 0/1)/2 = 1/4 (2-grams: 1 each side, no match) -> F = 1/4.
  EXPECT_NEAR(chrf({"\xC3\xA9"
                    "a"},
                   {"\xC3\xA9"
                    "b"}),
              25.0, 1e-9);
  // Corpus level: statistics are summed before the ratios. "ab"/"abc" plus "abc"/"abc":
  // 1-grams 5/6/5, 2-grams 3/4/3, 3-grams 1/2/1 (only the second pair has them).
  // P = (1+1+1)/3 = 1, R = (5/6 + 3/4 + 1/2)/3 = 25/36, F = 5·(25/36) / (4 + 25/36) = 125/169.
  EXPECT_NEAR(chrf({"ab", "abc"}, {"abc", "abc"}), 100.0 * 125 / 169, 1e-9);
}

TEST(TaskMetrics, Tokenize13a) {
  EXPECT_EQ(tokenize_13a("Hello, world. 3.5 is 3-4!"),
            (S{"Hello", ",", "world", ".", "3.5", "is", "3", "-", "4", "!"}));
  EXPECT_EQ(tokenize_13a("don't (x)"), (S{"don't", "(", "x", ")"}));
}

TEST(TaskMetrics, BleuByHand) {
  EXPECT_NEAR(bleu({"the cat sat on the mat"}, {"the cat sat on the mat"}), 100.0, 1e-9);
  // hyp "the cat the cat" (4 tokens) vs ref "the cat sat on the mat" (6 tokens):
  // 1-grams 3/4 (the ×2 clipped to 2, cat ×2 clipped to 1), 2-grams 1/3, 3-grams 0/2 -> exp
  // smoothing 1/(2·2), 4-grams 0/1 -> 1/(4·1). BP = exp(1 - 6/4).
  const double expected = 100.0 * std::exp(-0.5) * std::pow(0.75 * (1.0 / 3) * 0.25 * 0.25, 0.25);
  EXPECT_NEAR(bleu({"the cat the cat"}, {"the cat sat on the mat"}), expected, 1e-9);
  // Fewer than 4 hypothesis tokens: no 4-grams at all -> 0 (sacreBLEU without effective order).
  EXPECT_NEAR(bleu({"the cat"}, {"the cat"}), 0.0, 1e-12);
  EXPECT_NEAR(bleu({""}, {"a b c d"}), 0.0, 1e-12);
}

TEST(TaskMetrics, RougeLByHand) {
  // tokens: [the cat sat] vs [the cat was sat]: LCS 3, P = 1, R = 3/4, F1 = 6/7.
  EXPECT_NEAR(rouge_l({"the cat sat"}, {"The cat was sat."}), 100.0 * 6 / 7, 1e-9);
  // Averaged per pair: (6/7 + 0) / 2.
  EXPECT_NEAR(rouge_l({"the cat sat", "dog"}, {"The cat was sat.", "bird"}), 50.0 * 6 / 7, 1e-9);
  // LCS is not a substring: [a b c d] vs [a x c y d]: LCS a c d = 3, P 3/4, R 3/5 -> F 2/3.
  EXPECT_NEAR(rouge_l({"a b c d"}, {"a x c y d"}), 100.0 * 2 / 3, 1e-9);
}

TEST(TaskMetrics, ByNameAndAuto) {
  EXPECT_NEAR(text_metric("chrf", {"ab"}, {"abc"}), 100.0 * 7 / 11, 1e-9);
  EXPECT_THROW(text_metric("meteor", {"a"}, {"a"}), UsageError);
  EXPECT_EQ(auto_metric({"yes", "no answer here"}), "exact");
  EXPECT_EQ(auto_metric({"yes", "a longer free text answer"}), "chrf");
}
