// Ranker win rate of one model's answers over another's (see demo/win_rate.h).
#include "lmforge/demo/win_rate.h"

#include <cmath>

#include "lmforge/demo/demo_data.h"

namespace lmforge {

long ranker_credit_key(const std::string& answer, const std::string& reference) {
  return std::lround(100 * answer_credit(answer, reference));
}

int ranker_prefers_keyed(long ka, const std::string& a, long kb, const std::string& b) {
  if (a == b) return 0;
  if (ka != kb) return ka > kb ? 1 : -1;
  if (a.size() != b.size()) return a.size() < b.size() ? 1 : -1;
  return 0;
}

int ranker_prefers(const std::string& a, const std::string& b, const std::string& reference) {
  return ranker_prefers_keyed(ranker_credit_key(a, reference), a, ranker_credit_key(b, reference),
                              b);
}

void RankerWinRate::add(const std::string& answer, const std::string& baseline,
                        const std::string& reference) {
  ++prompts;
  if (answer == baseline) return;
  ++differ;
  const long ka = ranker_credit_key(answer, reference), kb = ranker_credit_key(baseline, reference);
  const int p = ranker_prefers_keyed(ka, answer, kb, baseline);
  (p > 0 ? wins : p < 0 ? losses : ties) += 1;
  if (ka != kb) (p > 0 ? credit_wins : credit_losses) += 1;
}

}  // namespace lmforge
