// PPO rollouts (see ppo.h): batched sampling with the KV-cache engine, token log-probs and values
// with the training forward, per-token rewards (KL penalty + centred score, missing-EOS penalty),
// GAE and whitening, the critic's ridge fit, the adaptive KL controller, and the held-out
// evaluation.
// Not here: the minibatch update and checkpoint state (ppo_objective.cpp), stage setup (ppo.cpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <string>

#include "lmforge/core/error.h"
#include "lmforge/core/rng.h"
#include "lmforge/dist/stats.h"
#include "lmforge/infer/engine.h"
#include "lmforge/infer/sampler.h"
#include "lmforge/loss/ppo.h"
#include "ppo_internal.h"

namespace lmforge {
namespace ppo_detail {

std::vector<std::vector<int32_t>> generate(const Transformer& model,
                                           const std::vector<const std::vector<int32_t>*>& prompts,
                                           const std::vector<uint64_t>& seeds, int max_new,
                                           double temperature,
                                           const std::vector<int32_t>& stop_ids) {
  const ModelConfig& mc = model.config();
  const int V = mc.vocab_size;
  const size_t n = prompts.size();
  InferenceModel im(model);  // borrows the weights: rollouts see the current policy
  std::vector<KVCache> caches;
  std::vector<Sampler> samplers;
  caches.reserve(n);
  samplers.reserve(n);
  std::vector<std::vector<int32_t>> out(n);
  std::vector<int32_t> last(n);
  std::vector<int> room(n);
  std::vector<char> done(n, 0);
  size_t longest = 0;
  for (const auto* p : prompts) longest = std::max(longest, p->size());
  // One capacity for every cache (the batched attention needs it), enough for the longest row.
  const int capacity = std::min<int>(mc.n_ctx, int(longest) + max_new);
  for (size_t i = 0; i < n; ++i) {
    room[i] = std::min<int>(mc.n_ctx, int(prompts[i]->size()) + max_new) - int(prompts[i]->size());
    check(room[i] >= 1, "ppo", "a prompt leaves no room for an answer in the context");
    caches.emplace_back(mc, capacity);
    SamplingParams sp;
    sp.temperature = float(temperature);
    sp.seed = seeds[i];
    samplers.emplace_back(sp);
  }
  std::vector<ForwardChunk> chunks;
  std::vector<size_t> who;
  for (;;) {
    chunks.clear();
    who.clear();
    for (size_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      std::span<const int32_t> toks = out[i].empty() ? std::span<const int32_t>(*prompts[i])
                                                     : std::span<const int32_t>(&last[i], 1);
      chunks.push_back({&caches[i], toks});
      who.push_back(i);
    }
    if (chunks.empty()) break;
    const float* logits = im.forward(chunks);  // (chunks, V): each chunk's last token
    for (size_t k = 0; k < who.size(); ++k) {
      const size_t i = who[k];
      const int32_t t = samplers[i].sample(logits + k * V, V, {});
      out[i].push_back(t);
      last[i] = t;
      const bool stop = std::find(stop_ids.begin(), stop_ids.end(), t) != stop_ids.end();
      if (stop || int(out[i].size()) >= room[i]) done[i] = 1;
    }
  }
  return out;
}

PaddedRows pad_rows(const std::vector<const std::vector<int32_t>*>& prompts,
                    const std::vector<const std::vector<int32_t>*>& responses) {
  PaddedRows p;
  const size_t B = prompts.size();
  for (size_t b = 0; b < B; ++b)
    p.T = std::max<int>(p.T, int(prompts[b]->size() + responses[b]->size()) - 1);
  p.ids.assign(B * p.T, 0);  // right padding: causal attention never lets it reach real tokens
  p.targets.assign(B * p.T, 0);
  p.mask.assign(B * p.T, 0.0f);
  for (size_t b = 0; b < B; ++b) {
    const auto& pr = *prompts[b];
    const auto& rs = *responses[b];
    int32_t* row = p.ids.data() + b * p.T;
    std::copy(pr.begin(), pr.end(), row);
    if (rs.size() > 1) std::copy(rs.begin(), rs.end() - 1, row + pr.size());
    for (size_t t = 0; t < rs.size(); ++t) {
      const size_t at = b * p.T + pr.size() - 1 + t;  // the position whose logits predict rs[t]
      p.targets[at] = rs[t];
      p.mask[at] = 1.0f;
      p.at.push_back(at);
    }
  }
  return p;
}

void score_tokens(Transformer& model, const std::vector<const std::vector<int32_t>*>& prompts,
                  const std::vector<const std::vector<int32_t>*>& responses, int batch_size,
                  double temperature, const float* vhead, std::vector<std::vector<float>>* logp,
                  std::vector<std::vector<float>>* values) {
  const int V = model.config().vocab_size, C = model.config().n_embd;
  const size_t n = prompts.size();
  logp->assign(n, {});
  if (values) values->assign(n, {});
  for (size_t b0 = 0; b0 < n; b0 += batch_size) {
    const size_t b1 = std::min(n, b0 + batch_size);
    std::vector<const std::vector<int32_t>*> pp(prompts.begin() + b0, prompts.begin() + b1),
        rr(responses.begin() + b0, responses.begin() + b1);
    PaddedRows p = pad_rows(pp, rr);
    const int B = int(b1 - b0);
    const float* logits = model.forward_logits(p.ids.data(), B, p.T);
    std::vector<float> lp(p.ids.size());
    token_logprobs(logits, p.targets.data(), p.ids.size(), V, lp.data(), nullptr, temperature);
    const float* h = model.last_hidden();
    size_t k = 0;
    for (size_t b = b0; b < b1; ++b) {
      for (size_t t = 0; t < responses[b]->size(); ++t, ++k) {
        const size_t at = p.at[k];
        (*logp)[b].push_back(lp[at]);
        if (values) {
          double v = vhead[C];
          for (int c = 0; c < C; ++c) v += double(h[at * C + c]) * vhead[c];
          (*values)[b].push_back(float(v));
        }
      }
    }
  }
}

std::vector<float> ridge_fit(const std::vector<float>& x, const std::vector<float>& y, int C,
                             double ridge, const std::vector<float>& prior, Comm* comm) {
  const size_t D = size_t(C) + 1;
  double n = double(y.size());
  if (comm && comm->size() > 1) comm->all_reduce(&n, 1);
  if (n == 0) return prior;
  std::vector<double> A(D * D, 0.0), b(D, 0.0), xi(D);
  for (size_t i = 0; i < y.size(); ++i) {
    for (int c = 0; c < C; ++c) xi[size_t(c)] = x[i * size_t(C) + size_t(c)];
    xi[D - 1] = 1.0;
    for (size_t r = 0; r < D; ++r) {
      b[r] += xi[r] * y[i];
      for (size_t c = 0; c <= r; ++c) A[r * D + c] += xi[r] * xi[c];
    }
  }
  // Data parallel: the normal equations of every rank's rows, so every rank fits the same head.
  if (comm && comm->size() > 1) {
    comm->all_reduce(A.data(), A.size());
    comm->all_reduce(b.data(), b.size());
  }
  double tr = 0;
  for (size_t r = 0; r < D; ++r) {
    b[r] /= double(n);
    for (size_t c = 0; c <= r; ++c) A[r * D + c] /= double(n);
    tr += A[r * D + r];
  }
  const double rho = std::max(1e-8, ridge * tr / double(D));
  for (size_t r = 0; r < D; ++r) {
    A[r * D + r] += rho;
    b[r] += rho * prior[r];
  }
  // Cholesky A = L·Lᵀ in the lower triangle, then two triangular solves.
  for (size_t j = 0; j < D; ++j) {
    double d = A[j * D + j];
    for (size_t k = 0; k < j; ++k) d -= A[j * D + k] * A[j * D + k];
    if (!(d > 0)) return prior;
    A[j * D + j] = std::sqrt(d);
    for (size_t i = j + 1; i < D; ++i) {
      double v = A[i * D + j];
      for (size_t k = 0; k < j; ++k) v -= A[i * D + k] * A[j * D + k];
      A[i * D + j] = v / A[j * D + j];
    }
  }
  for (size_t i = 0; i < D; ++i) {
    for (size_t k = 0; k < i; ++k) b[i] -= A[i * D + k] * b[k];
    b[i] /= A[i * D + i];
  }
  for (size_t i = D; i-- > 0;) {
    for (size_t k = i + 1; k < D; ++k) b[i] -= A[k * D + i] * b[k];
    b[i] /= A[i * D + i];
  }
  return std::vector<float>(b.begin(), b.end());
}

}  // namespace ppo_detail

namespace {

// The order of the training prompts in epoch e over them (a seeded shuffle per epoch).
std::vector<size_t> prompt_order(size_t n, uint64_t seed, int64_t epoch) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  Rng rng(seed_for(seed, "ppo-prompts-" + std::to_string(epoch)));
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

}  // namespace

void PpoObjective::fit_value_head(const Rollout& ro) {
  using namespace ppo_detail;
  const int C = policy_.config().n_embd;
  std::vector<float> x, y;
  for (size_t b0 = 0; b0 < ro.rows.size(); b0 += size_t(B_)) {
    const size_t b1 = std::min(ro.rows.size(), b0 + size_t(B_));
    std::vector<const std::vector<int32_t>*> pp, rr;
    for (size_t b = b0; b < b1; ++b)
      pp.push_back(&ro.rows[b].prompt), rr.push_back(&ro.rows[b].response);
    PaddedRows p = pad_rows(pp, rr);
    const float* h = policy_.forward_hidden(p.ids.data(), int(b1 - b0), p.T);
    size_t k = 0;
    for (size_t b = b0; b < b1; ++b)
      for (float r : ro.rows[b].ret) {
        x.insert(x.end(), h + p.at[k] * size_t(C), h + (p.at[k] + 1) * size_t(C));
        y.push_back(r);
        ++k;
      }
  }
  vhead_ = ridge_fit(x, y, C, cfg_.value_ridge, vhead_, &comm());
}

void PpoObjective::collect(int64_t index) {
  using namespace ppo_detail;
  // The critic learns from the rollout just finished, seen by the policy that now samples.
  if (ro_ && ro_->index < index) fit_value_head(*ro_);
  const size_t R = size_t(cfg_.rollout_batch), n = prompts_.train.size();
  auto ro = std::make_unique<Rollout>();
  ro->index = index;
  ro->rows.resize(R);
  std::vector<const std::vector<int32_t>*> pp(R), rr(R);
  std::vector<uint64_t> seeds(R);
  std::optional<std::vector<size_t>> order;
  int64_t order_epoch = -1;
  for (size_t j = 0; j < R; ++j) {
    // Sample number over the whole run; with N ranks a rollout is N·R prompts and this rank
    // answers its R of them (dist).
    const int64_t slot = int64_t(comm().rank()) * int64_t(R) + int64_t(j);
    const int64_t g = index * int64_t(R) * comm().size() + slot;
    const int64_t epoch = g / int64_t(n);
    if (epoch != order_epoch) order = prompt_order(n, cfg_.seed, order_epoch = epoch);
    ro->rows[j].prompt = prompts_.train[(*order)[size_t(g % int64_t(n))]];
    pp[j] = &ro->rows[j].prompt;
    // The rollout's draws depend only on (seed, rollout index, row): a resumed run repeats them.
    seeds[j] =
        seed_for(cfg_.seed, "ppo-rollout-" + std::to_string(index) + "-" + std::to_string(slot));
  }
  // With LoRA the engine applies the policy's adapters unmerged (model/block.h).
  std::vector<std::vector<int32_t>> resp =
      generate(policy_, pp, seeds, cfg_.max_new_tokens, cfg_.temperature, prompts_.stop_ids);
  std::vector<PpoSample> samples(R);
  for (size_t j = 0; j < R; ++j) {
    ro->rows[j].response = std::move(resp[j]);
    rr[j] = &ro->rows[j].response;
    samples[j] = {ro->rows[j].prompt, ro->rows[j].response};
  }
  std::vector<double> scores = reward_(samples);
  check(scores.size() == R, "ppo", "the reward function returned the wrong number of scores");

  std::vector<std::vector<float>> logp, values, ref_logp;
  score_tokens(policy_, pp, rr, B_, cfg_.temperature, vhead_.data(), &logp, &values);
  score_tokens(ref_, pp, rr, B_, cfg_.temperature, nullptr, &ref_logp, nullptr);

  std::vector<float> sc(scores.begin(), scores.end());
  double raw_mean = 0, kl_sum = 0, len_sum = 0, unfinished = 0;
  for (double s : scores) raw_mean += s / double(R);
  // Centre (the reward model's offset carries no information; left in, it would pay or charge
  // per token through the value baseline and favour short or long answers), and whiten; both
  // over every rank's answers when data parallel (dist).
  if (cfg_.whiten_rewards) {
    whiten_over_ranks(comm(), sc.data(), R, /*shift_mean=*/true);
  } else {
    double mean = raw_mean;
    if (comm().size() > 1) {
      comm().all_reduce(&mean, 1);
      mean /= comm().size();
    }
    for (float& s : sc) s = float(s - mean);
  }
  for (size_t j = 0; j < R; ++j) {
    const auto& r = ro->rows[j].response;
    const bool ended = !r.empty() && std::find(prompts_.stop_ids.begin(), prompts_.stop_ids.end(),
                                               r.back()) != prompts_.stop_ids.end();
    if (!ended) {
      sc[j] -= float(cfg_.missing_eos_penalty);
      unfinished += 1.0 / double(R);
    }
  }
  std::vector<float> all_adv;
  for (size_t j = 0; j < R; ++j) {
    Rollout::Row& row = ro->rows[j];
    const int L = int(row.response.size());
    std::vector<float> rew(L);
    double kl = 0;
    for (int t = 0; t < L; ++t) {
      const double k = double(logp[j][t]) - ref_logp[j][t];  // per-token KL estimate
      kl += k;
      rew[t] = float(-kl_coef_ * k);
    }
    rew[L - 1] += sc[j];
    kl_sum += kl;
    len_sum += L;
    row.old_logp = std::move(logp[j]);
    row.old_v = std::move(values[j]);
    row.adv.resize(L);
    row.ret.resize(L);
    ppo_gae(rew.data(), row.old_v.data(), L, cfg_.gamma, cfg_.lam, row.adv.data(), row.ret.data());
    all_adv.insert(all_adv.end(), row.adv.begin(), row.adv.end());
  }
  whiten_over_ranks(comm(), all_adv.data(), all_adv.size(), /*shift_mean=*/true);
  if (comm().size() > 1) {  // the rollout's statistics over every rank's answers (dist)
    double sums[4] = {raw_mean, kl_sum, len_sum, unfinished};
    comm().all_reduce(sums, 4);
    raw_mean = sums[0] / comm().size();
    kl_sum = sums[1] / comm().size();
    len_sum = sums[2] / comm().size();
    unfinished = sums[3] / comm().size();
  }
  size_t k = 0;
  for (auto& row : ro->rows)
    for (auto& a : row.adv) a = all_adv[k++];
  ro->reward_mean = raw_mean;
  ro->kl = kl_sum / double(R);
  ro->response_len = len_sum / double(R);
  ro->unfinished = unfinished;

  if (cfg_.max_kl > 0 && ro->kl > cfg_.max_kl) {
    char msg[256];
    std::snprintf(msg, sizeof msg,
                  "KL to the reference is %.3f nats per answer at rollout %lld, above --max-kl "
                  "%.3f",
                  ro->kl, static_cast<long long>(index), cfg_.max_kl);
    if (cfg_.kl_action == "stop")
      throw RuntimeError(std::string(msg) +
                         "; stopped (hint: lower --lr, raise --kl-coef or use --adaptive-kl; the "
                         "last checkpoint is kept)");
    std::fprintf(stderr, "warning: %s (hint: lower --lr or raise --kl-coef)\n", msg);
  }
  // Ziegler et al. 2019: β ← β·(1 + clip(KL/target - 1, ±0.2)·n/horizon), after the batch used β.
  if (cfg_.adaptive_kl) {
    const double err = std::clamp(ro->kl / cfg_.kl_target - 1.0, -0.2, 0.2);
    kl_coef_ *= 1.0 + err * double(R) / cfg_.kl_horizon;
  }
  ro_ = std::move(ro);
}

std::vector<PpoSample> PpoObjective::sample_eval(int n) {
  n = std::min<int>(n, int(prompts_.eval.size()));
  std::vector<const std::vector<int32_t>*> pp;
  std::vector<uint64_t> seeds;
  for (int i = 0; i < n; ++i) {
    pp.push_back(&prompts_.eval[i]);
    seeds.push_back(seed_for(cfg_.seed, "ppo-eval-" + std::to_string(i)));
  }
  std::vector<std::vector<int32_t>> resp = ppo_detail::generate(
      policy_, pp, seeds, cfg_.max_new_tokens, cfg_.temperature, prompts_.stop_ids);
  std::vector<PpoSample> out(n);
  for (int i = 0; i < n; ++i) out[i] = {prompts_.eval[i], std::move(resp[i])};
  return out;
}

PpoObjective::Eval PpoObjective::evaluate() {
  Eval e;
  std::vector<PpoSample> s = sample_eval(int(prompts_.eval.size()));
  if (s.empty()) return e;
  std::vector<double> scores = reward_(s);
  check(scores.size() == s.size(), "ppo",
        "the reward function returned the wrong number of scores");
  std::vector<const std::vector<int32_t>*> pp, rr;
  for (const auto& x : s) pp.push_back(&x.prompt), rr.push_back(&x.response);
  std::vector<std::vector<float>> lp, ref;
  ppo_detail::score_tokens(policy_, pp, rr, B_, cfg_.temperature, nullptr, &lp, nullptr);
  ppo_detail::score_tokens(ref_, pp, rr, B_, cfg_.temperature, nullptr, &ref, nullptr);
  for (size_t i = 0; i < s.size(); ++i) {
    e.mean_reward += scores[i] / double(s.size());
    e.response_len += double(s[i].response.size()) / double(s.size());
    for (size_t t = 0; t < lp[i].size(); ++t)
      e.kl += (double(lp[i][t]) - ref[i][t]) / double(s.size());
  }
  return e;
}

}  // namespace lmforge
