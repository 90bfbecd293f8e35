// Ranker win rate of one model's answers over another's (see demo/win_rate.h).
#include "lmforge/demo/win_rate.h"

#include <cmath>

#include "lmforge/demo/demo_data.h"

namespace lmforge {

int ranker_prefers(const std::string& a, const std::string& b, const std::string& reference) {
  if (a == b) return 0;
  // Credit compared to 0.01, as simulated_rank and `demo rank`'s ties do.
  const long ca = std::lround(100 * answer_credit(a, reference));
  const long cb = std::lround(100 * answer_credit(b, reference));
  if (ca != cb) return ca > cb ? 1 : -1;
  if (a.size() != b.size()) return a.size() < b.size() ? 1 : -1;
  return 0;
}

void RankerWinRate::add(const std::string& answer, const std::string& baseline,
                        const std::string& reference) {
  ++prompts;
  if (answer == baseline) return;
  ++differ;
  const int p = ranker_prefers(answer, baseline, reference);
  (p > 0 ? wins : p < 0 ? losses : ties) += 1;
  if (std::lround(100 * answer_credit(answer, reference)) !=
      std::lround(100 * answer_credit(baseline, reference)))
    (p > 0 ? credit_wins : credit_losses) += 1;
}

}  // namespace lmforge
