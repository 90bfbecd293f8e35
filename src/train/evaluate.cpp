// Windowed loss over a token stream (see evaluate.h for the windowing).
#include "lmforge/train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "lmforge/core/error.h"

namespace lmforge {

double EvalResult::loss() const {
  return tokens > 0 ? loss_sum / static_cast<double>(tokens)
                    : std::numeric_limits<double>::quiet_NaN();
}
double EvalResult::perplexity() const { return std::exp(loss()); }
double EvalResult::bits_per_byte() const {
  return bytes > 0 ? loss_sum / (std::numbers::ln2 * static_cast<double>(bytes))
                   : std::numeric_limits<double>::quiet_NaN();
}

EvalResult evaluate_tokens(Transformer& model, const TokenReader& reader, int64_t num_tokens,
                           int B, int T, int64_t max_targets, const Tokenizer* tokenizer) {
  EvalResult r;
  if (num_tokens < 2) return r;
  check(B >= 1 && T >= 1, "evaluate", "batch size and sequence length must be positive");
  // A stream shorter than one window is scored as one shorter sequence.
  T = static_cast<int>(std::min<int64_t>(T, num_tokens - 1));
  const int64_t total_targets = num_tokens - 1;
  const int64_t want =
      max_targets > 0 ? std::min<int64_t>(max_targets, total_targets) : total_targets;
  const int64_t windows = (want + T - 1) / T;
  std::vector<int32_t> buf(T + 1), ids(static_cast<size_t>(B) * T), targets(ids.size());
  for (int64_t w0 = 0; w0 < windows; w0 += B) {
    const int nb = static_cast<int>(std::min<int64_t>(B, windows - w0));
    std::fill(ids.begin(), ids.end(), 0);
    std::fill(targets.begin(), targets.end(), -1);
    for (int b = 0; b < nb; ++b) {
      const int64_t start = (w0 + b) * T;
      const int len = static_cast<int>(std::min<int64_t>(T, total_targets - start));  // targets
      reader(start, len + 1, buf.data());
      std::copy(buf.begin(), buf.begin() + len, ids.begin() + static_cast<size_t>(b) * T);
      std::copy(buf.begin() + 1, buf.begin() + len + 1,
                targets.begin() + static_cast<size_t>(b) * T);
    }
    model.forward(ids.data(), targets.data(), nb, T);
    const float* losses = model.last_losses();
    for (size_t i = 0; i < static_cast<size_t>(nb) * T; ++i) {
      if (targets[i] < 0) continue;
      r.loss_sum += losses[i];
      ++r.tokens;
      if (tokenizer) r.bytes += tokenizer->token_bytes(targets[i]).size();
    }
  }
  return r;
}

}  // namespace lmforge
