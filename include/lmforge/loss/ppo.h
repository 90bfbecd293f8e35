// PPO's loss pieces (Schulman et al. 2017; the RLHF recipe of Ziegler et al. 2019 / InstructGPT,
// as TRL implements it), each a plain function over flat per-token arrays of the response tokens
// of a minibatch:
//   gae            generalized advantage estimation along one response (Schulman et al. 2016)
//   whiten         (x - mean) / std over the unmasked entries (advantages, rewards)
//   policy loss    clipped surrogate  max(-A·r, -A·clip(r, 1-ε, 1+ε)),  r = exp(logp - logp_old)
//   value loss     clipped value loss 0.5·max((v-R)², (clip(v, v_old±ε_v) - R)²)
//   token logprobs log-softmax of the taken token and the entropy of each row of logits, and the
//                  backward that turns d loss/d logp and d loss/d entropy into dlogits in place
// Losses are masked means over the tokens whose mask is 1 and return the gradient of
// (loss · scale) w.r.t. their input, so a caller sums heads into one backward.
// Not here: rollouts, the reward model, KL control or minibatching (train/ppo*.h).
#pragma once
#include <cstddef>
#include <cstdint>

namespace lmforge {

// One response of n tokens: rewards[t] (the per-token KL penalty plus, at the last token, the
// score) and values[t] = V(s_t) (the state before token t). After the last token the episode
// ends (V = 0). advantages[t] = Σ_k (γλ)^k δ_{t+k}, δ_t = r_t + γ·V_{t+1} - V_t;
// returns[t] = advantages[t] + values[t] (the value target).
void ppo_gae(const float* rewards, const float* values, int n, double gamma, double lam,
             float* advantages, float* returns);

// In place over the entries with mask != 0 (mask null: all n): x = (x - mean) / sqrt(var + 1e-8)
// with the unbiased variance (as TRL's masked_whiten); shift_mean = false keeps the mean
// (x = (x - mean)/std + mean). Masked-out entries are left alone. Needs at least 2 entries:
// with fewer, x is unchanged.
void ppo_whiten(float* x, const float* mask, size_t n, bool shift_mean);

struct PpoPolicyLoss {
  double loss = 0;       // masked mean of the clipped surrogate
  double clip_frac = 0;  // fraction of tokens where the clipped term was the larger
  double approx_kl = 0;  // masked mean of (r - 1) - log r (k3 estimator of KL(old || new))
};
// dlogp[i] = d (loss · scale) / d logp[i] (0 where mask is 0). mask null: all count.
PpoPolicyLoss ppo_policy_loss(const float* logp, const float* old_logp, const float* advantages,
                              const float* mask, size_t n, double clip, float scale, float* dlogp);

struct PpoValueLoss {
  double loss = 0;       // 0.5 · masked mean of the larger squared error
  double clip_frac = 0;  // fraction of tokens where the clipped error was the larger
};
// clip <= 0 disables value clipping. dv[i] = d (loss · scale) / d values[i].
PpoValueLoss ppo_value_loss(const float* values, const float* old_values, const float* returns,
                            const float* mask, size_t n, double clip, float scale, float* dv);

// For each of N rows of logits (V): logp[i] = log softmax(row/τ)[targets[i]] and entropy[i] =
// -Σ p log p of that distribution, both computed in double. τ = `temperature`: the distribution
// the rollouts were sampled from (the sampler divides the logits by it), so the PPO ratio and the
// KL compare the policy that actually acted. Either output may be null.
void token_logprobs(const float* logits, const int32_t* targets, size_t N, int V, float* logp,
                    float* entropy, double temperature = 1.0);
// Overwrites each row of `logits` (N,V) with d loss/d logits given d loss/d logp (dlogp) and
// d loss/d entropy (dentropy, may be null): dz = (dlogp·(onehot - p) - dent·p·(log p + H))/τ with
// p = softmax(z/τ). Rows with row_mask == 0 (row_mask may be null) become zeros, so padding adds
// no gradient.
void token_logprobs_backward(float* logits, const int32_t* targets, const float* dlogp,
                             const float* dentropy, const float* row_mask, size_t N, int V,
                             double temperature = 1.0);

}  // namespace lmforge
