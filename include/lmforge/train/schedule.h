// Learning-rate schedules: linear warmup from 0, then cosine or linear decay to min_lr, or
// constant. Steps are 1-based (step s is the s-th optimizer update), so the first update already
// gets a non-zero rate (lr/warmup) and the last one (s = total_steps) gets exactly min_lr.
// Not here: restarts, per-group rates, schedules that depend on the loss.
#pragma once
#include <cstdint>
#include <string>

namespace lmforge {

enum class LrDecay { kCosine, kLinear, kConstant };

// Parses "cosine" | "linear" | "constant"; throws UsageError otherwise.
LrDecay parse_lr_decay(const std::string& name);
std::string to_string(LrDecay decay);

struct LrSchedule {
  double lr = 3e-4;      // peak rate, reached at the end of warmup
  double min_lr = 3e-5;  // floor reached at total_steps (cosine/linear)
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  LrDecay decay = LrDecay::kCosine;

  // Rate for the 1-based update `step`; steps past total_steps stay at min_lr.
  double at(int64_t step) const;
};

}  // namespace lmforge
