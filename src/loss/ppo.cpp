// PPO's GAE, whitening and clipped policy/value losses (see ppo.h). Sums are accumulated in
// double; the per-token math follows TRL's PPOTrainer so numbers can be compared with it.
// Not here: the token log-prob head (ppo_logprob.cpp), rollouts and training (train/ppo*.cpp).
#include "lmforge/loss/ppo.h"

#include <algorithm>
#include <cmath>

namespace lmforge {

void ppo_gae(const float* rewards, const float* values, int n, double gamma, double lam,
             float* advantages, float* returns) {
  double last = 0;  // the advantage of the following token (0 after the end)
  for (int t = n - 1; t >= 0; --t) {
    const double next_v = t + 1 < n ? values[t + 1] : 0.0;
    const double delta = rewards[t] + gamma * next_v - values[t];
    last = delta + gamma * lam * last;
    advantages[t] = float(last);
  }
  for (int t = 0; t < n; ++t) returns[t] = advantages[t] + values[t];
}

void ppo_whiten(float* x, const float* mask, size_t n, bool shift_mean) {
  double s = 0, cnt = 0;
  for (size_t i = 0; i < n; ++i)
    if (!mask || mask[i] != 0) s += x[i], cnt += 1;
  if (cnt < 2) return;
  const double mean = s / cnt;
  double ss = 0;
  for (size_t i = 0; i < n; ++i)
    if (!mask || mask[i] != 0) ss += (x[i] - mean) * (x[i] - mean);
  const double rstd = 1.0 / std::sqrt(ss / (cnt - 1) + 1e-8);  // unbiased, as torch.var
  for (size_t i = 0; i < n; ++i)
    if (!mask || mask[i] != 0) x[i] = float((x[i] - mean) * rstd + (shift_mean ? 0.0 : mean));
}

PpoPolicyLoss ppo_policy_loss(const float* logp, const float* old_logp, const float* adv,
                              const float* mask, size_t n, double clip, float scale, float* dlogp) {
  double cnt = 0;
  for (size_t i = 0; i < n; ++i) cnt += mask ? mask[i] : 1.0;
  PpoPolicyLoss r;
  if (cnt <= 0) {
    std::fill(dlogp, dlogp + n, 0.0f);
    return r;
  }
  for (size_t i = 0; i < n; ++i) {
    const double m = mask ? mask[i] : 1.0;
    if (m == 0) {
      dlogp[i] = 0;
      continue;
    }
    const double log_ratio = double(logp[i]) - old_logp[i];
    const double ratio = std::exp(log_ratio);
    const double clipped = std::clamp(ratio, 1.0 - clip, 1.0 + clip);
    const double l1 = -adv[i] * ratio, l2 = -adv[i] * clipped;
    // The max picks the pessimistic term; when the clipped one wins, its gradient is 0 (the
    // ratio is outside [1-ε, 1+ε]), which is how clipping removes the incentive to move further.
    const bool clipped_wins = l2 > l1;
    r.loss += m * std::max(l1, l2);
    r.clip_frac += clipped_wins ? m : 0.0;
    r.approx_kl += m * ((ratio - 1.0) - log_ratio);
    // d l1/d logp = -A·ratio (d ratio/d logp = ratio).
    dlogp[i] = clipped_wins ? 0.0f : float(m * -adv[i] * ratio * scale / cnt);
  }
  r.loss /= cnt;
  r.clip_frac /= cnt;
  r.approx_kl /= cnt;
  return r;
}

PpoValueLoss ppo_value_loss(const float* v, const float* old_v, const float* ret, const float* mask,
                            size_t n, double clip, float scale, float* dv) {
  double cnt = 0;
  for (size_t i = 0; i < n; ++i) cnt += mask ? mask[i] : 1.0;
  PpoValueLoss r;
  if (cnt <= 0) {
    std::fill(dv, dv + n, 0.0f);
    return r;
  }
  for (size_t i = 0; i < n; ++i) {
    const double m = mask ? mask[i] : 1.0;
    if (m == 0) {
      dv[i] = 0;
      continue;
    }
    const double e1 = double(v[i]) - ret[i];
    double grad = e1;  // d 0.5·e1²/dv
    double l = e1 * e1;
    if (clip > 0) {
      const double d = double(v[i]) - old_v[i];
      const double vc = old_v[i] + std::clamp(d, -clip, clip);
      const double e2 = vc - ret[i];
      if (e2 * e2 > e1 * e1) {
        l = e2 * e2;
        // The clipped value moves with v only inside the clip range.
        grad = std::abs(d) < clip ? e2 : 0.0;
        r.clip_frac += m;
      }
    }
    r.loss += m * 0.5 * l;
    dv[i] = float(m * grad * scale / cnt);
  }
  r.loss /= cnt;
  r.clip_frac /= cnt;
  return r;
}

}  // namespace lmforge
