// The simulated ranker as a judge of two models: for each held-out prompt, the aligned model's
// answer against the baseline's (e.g. DPO's greedy answer against the instruction-tuned model's),
// ordered by the same rule that ranked the model's own samples (kSimulatedRankerRule: credit to
// 0.01 first, then the shorter answer). The win rate counts only decided prompts:
// wins / (wins + losses); prompts whose two answers are the same string are not compared, and two
// different answers the rule cannot order (same credit, same length) are ties.
// Not here: the credit itself (ranker.cpp), generating the answers (answer.cpp).
#pragma once
#include <optional>
#include <string>

namespace lmforge {

// An answer's credit for `reference` in hundredths: the rule compares credits to 0.01.
long ranker_credit_key(const std::string& answer, const std::string& reference);

// The rule's order on answers whose credit keys are known: +1 when `a` (key ka) ranks above `b`
// (key kb), -1 when below, 0 when it cannot order them (the same string, or the same key and the
// same length in bytes).
int ranker_prefers_keyed(long ka, const std::string& a, long kb, const std::string& b);

// ranker_prefers_keyed with both keys computed for `reference`.
int ranker_prefers(const std::string& a, const std::string& b, const std::string& reference);

struct RankerWinRate {
  int prompts = 0;                     // compared prompts
  int differ = 0;                      // of them, those whose two answers differ
  int wins = 0, losses = 0, ties = 0;  // wins + losses + ties == differ
  // Of the wins and losses, those decided by credit (right vs partly right vs wrong); the rest
  // were decided by length alone (both answers equally right or wrong).
  int credit_wins = 0, credit_losses = 0;
  // wins / (wins + losses); nullopt when no prompt was decided.
  std::optional<double> rate() const {
    if (wins + losses == 0) return std::nullopt;
    return double(wins) / double(wins + losses);
  }
  // Counts one prompt: `answer` (the model judged) against `baseline`.
  void add(const std::string& answer, const std::string& baseline, const std::string& reference);
};

}  // namespace lmforge
