// Statistics over the values every rank holds (PPO's reward and advantage whitening): the same
// arithmetic as one process holding all the values, with the sums all-reduced.
// Not here: the collectives (comm.h), the losses that use the statistics (loss/ppo.h).
#pragma once
#include <cstddef>

#include "lmforge/dist/comm.h"

namespace lmforge {

// x ← (x − mean)/sqrt(var + 1e-8) (+ mean unless shift_mean) with the mean and unbiased variance
// of every rank's x together, as loss/ppo.h's ppo_whiten over the concatenation (unchanged when
// fewer than two values exist in all).
void whiten_over_ranks(Comm& comm, float* x, size_t n, bool shift_mean);

}  // namespace lmforge
