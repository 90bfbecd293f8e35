// Warmup + cosine/linear decay (see schedule.h for the step convention).
#include "lmforge/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "lmforge/core/error.h"

namespace lmforge {

LrDecay parse_lr_decay(const std::string& name) {
  if (name == "cosine") return LrDecay::kCosine;
  if (name == "linear") return LrDecay::kLinear;
  if (name == "constant") return LrDecay::kConstant;
  throw UsageError("unknown learning-rate decay '" + name +
                   "' (hint: use cosine, linear or constant)");
}

std::string to_string(LrDecay decay) {
  switch (decay) {
    case LrDecay::kCosine:
      return "cosine";
    case LrDecay::kLinear:
      return "linear";
    case LrDecay::kConstant:
      return "constant";
  }
  return "?";
}

double LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step <= warmup_steps)
    return lr * static_cast<double>(std::max<int64_t>(step, 1)) / static_cast<double>(warmup_steps);
  if (decay == LrDecay::kConstant) return lr;
  int64_t span = total_steps - warmup_steps;
  if (span <= 0) return min_lr;
  double p =
      std::clamp(static_cast<double>(step - warmup_steps) / static_cast<double>(span), 0.0, 1.0);
  double f = decay == LrDecay::kCosine ? 0.5 * (1.0 + std::cos(std::numbers::pi * p)) : 1.0 - p;
  return min_lr + (lr - min_lr) * f;
}

}  // namespace lmforge
