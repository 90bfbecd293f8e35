// The ranker win rate (demo/win_rate.h): the pairwise judgement is the simulated ranker's own
// order (right first, then shorter), identical answers are not compared, answers the rule cannot
// order are ties, and the rate counts decided prompts only.
#include "lmforge/demo/win_rate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lmforge/demo/demo_data.h"

using namespace lmforge;

TEST(WinRate, RightBeatsPartlyRightBeatsWrongThenShorter) {
  EXPECT_EQ(ranker_prefers("der Hund", "der Hunde", "der Hund"), 1);    // exact > partial
  EXPECT_EQ(ranker_prefers("der Hunde", "die Katze", "der Hund"), 1);   // partial > wrong
  EXPECT_EQ(ranker_prefers("die Katze", "der Hund.", "der Hund"), -1);  // wrong < exact
  EXPECT_EQ(ranker_prefers("Der Hund!", "der hund", "der Hund"), -1);   // both right: shorter
  EXPECT_EQ(ranker_prefers("xy", "abcd", "der Hund"), 1);               // both wrong: shorter
  EXPECT_EQ(ranker_prefers("ab", "cd", "der Hund"), 0);                 // same credit, length
  EXPECT_EQ(ranker_prefers("same", "same", "der Hund"), 0);
}

TEST(WinRate, AgreesWithTheRankingOfTheSamples) {
  // The judge is the order simulated_rank (and so `demo rank`) puts answers in.
  const std::vector<std::string> answers = {
      "I don't know.", "der Hund, I think", "die Katze", "Der Hund.", "der Hunde", "Hund", "", "x"};
  for (const auto& a : answers)
    for (const auto& b : answers) {
      const int p = ranker_prefers(a, b, "der Hund");
      EXPECT_EQ(p, -ranker_prefers(b, a, "der Hund")) << a << " | " << b;
      if (p == 0) continue;
      const auto ranked = simulated_rank({a, b}, "der Hund");
      EXPECT_EQ(ranked[0], p > 0 ? a : b) << a << " | " << b;
    }
}

TEST(WinRate, CountsDecidedPromptsOnly) {
  RankerWinRate w;
  EXPECT_FALSE(w.rate());
  w.add("der Hund", "der Hund", "der Hund");  // identical: not compared
  EXPECT_EQ(w.prompts, 1);
  EXPECT_EQ(w.differ, 0);
  EXPECT_FALSE(w.rate());                      // nothing decided is no rate, not 0%
  w.add("der Hund", "die Katze", "der Hund");  // win
  w.add("das Haus", "der Hunde", "der Hund");  // loss
  w.add("ab", "cd", "der Hund");               // tie
  w.add("b", "the letter b", "b");             // win
  EXPECT_EQ(w.prompts, 5);
  EXPECT_EQ(w.differ, 4);
  EXPECT_EQ(w.wins, 2);
  EXPECT_EQ(w.losses, 1);
  EXPECT_EQ(w.ties, 1);
  EXPECT_EQ(w.credit_wins, 2);
  EXPECT_EQ(w.credit_losses, 1);
  w.add("xy", "abcd", "der Hund");  // both wrong: won on length alone
  EXPECT_EQ(w.wins, 3);
  EXPECT_EQ(w.credit_wins, 2);
  ASSERT_TRUE(w.rate());
  EXPECT_DOUBLE_EQ(*w.rate(), 3.0 / 4.0);
}
