// AdamW segment by segment over flat arrays, and global-norm clipping; the arithmetic lives in
// the backend kernels (ops::adamw_update, sum_squares, scale_inplace).
#include "lmforge/train/optimizer.h"

#include <cmath>

#include "lmforge/backend/ops.h"
#include "lmforge/core/error.h"

namespace lmforge {

AdamW::AdamW(AdamWConfig config, std::vector<ParamSegment> segments, size_t numel)
    : config_(config), segments_(std::move(segments)), m_(numel, 0.0f), v_(numel, 0.0f) {
  for (const auto& s : segments_)
    check(s.offset + s.numel <= numel, "adamw",
          "segment '" + s.name + "' lies outside the parameter arena");
}

void AdamW::update(float* params, const float* grads, float lr) {
  ++step_;
  for (const auto& s : segments_) {
    float wd = s.decay ? config_.weight_decay : 0.0f;
    ops::adamw_update(params + s.offset, grads + s.offset, m_.data() + s.offset,
                      v_.data() + s.offset, s.numel, lr, config_.beta1, config_.beta2, config_.eps,
                      wd, step_);
  }
}

double clip_grad_norm(float* grads, size_t n, double max_norm) {
  double norm = std::sqrt(ops::sum_squares(grads, n));
  // A non-finite norm is reported, never "clipped": scaling by 0/inf would hide the problem.
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm)
    ops::scale_inplace(grads, static_cast<float>(max_norm / norm), n);
  return norm;
}

}  // namespace lmforge
