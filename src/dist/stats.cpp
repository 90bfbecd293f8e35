// Whitening with statistics over all ranks (see dist/stats.h).
#include "lmforge/dist/stats.h"

#include <cmath>

namespace lmforge {

void whiten_over_ranks(Comm& comm, float* x, size_t n, bool shift_mean) {
  double sc[2] = {0, double(n)};  // sum, count
  for (size_t i = 0; i < n; ++i) sc[0] += x[i];
  comm.all_reduce(sc, 2);
  if (sc[1] < 2) return;
  const double mean = sc[0] / sc[1];
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += (x[i] - mean) * (x[i] - mean);
  comm.all_reduce(&ss, 1);
  const double rstd = 1.0 / std::sqrt(ss / (sc[1] - 1) + 1e-8);  // unbiased, as torch.var
  for (size_t i = 0; i < n; ++i) x[i] = float((x[i] - mean) * rstd + (shift_mean ? 0.0 : mean));
}

}  // namespace lmforge
