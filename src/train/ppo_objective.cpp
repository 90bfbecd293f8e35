// The PPO objective's minibatch update and checkpoint state (see ppo.h): one forward of the policy
// gives the token log-probs (from the logits at the sampling temperature) and, for metrics, the
// critic's values (from the final hidden states); one backward_from() takes the policy gradient.
// Not here: rollouts and evaluation (ppo_rollout.cpp), stage setup (ppo.cpp).
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/rng.h"
#include "lmforge/io/safetensors.h"
#include "lmforge/loss/ppo.h"
#include "ppo_internal.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr const char* kStateFile = "ppo_state.json";
constexpr const char* kValueHeadFile = "v_head.safetensors";
}  // namespace

PpoObjective::PpoObjective(Transformer& policy, Transformer& reference, PpoRewardFn reward,
                           PpoPrompts prompts, PpoConfig cfg, int batch_size, int grad_accum)
    : policy_(policy),
      ref_(reference),
      reward_(std::move(reward)),
      prompts_(std::move(prompts)),
      cfg_(std::move(cfg)),
      B_(batch_size),
      accum_(grad_accum),
      kl_coef_(cfg_.kl_coef),
      // V = 0 before the first fit: with the scores centred on their batch mean, 0 is the
      // expected return of an answer, so the first rollout's advantages carry no offset.
      vhead_(size_t(policy.config().n_embd) + 1, 0.0f) {
  if (cfg_.rollout_batch < 1 || cfg_.rollout_batch % (B_ * accum_) != 0)
    throw UsageError("--rollout-batch " + std::to_string(cfg_.rollout_batch) +
                     " must be a multiple of --batch-size x --grad-accum (" +
                     std::to_string(B_ * accum_) + ")");
  if (prompts_.train.empty()) throw UsageError("ppo needs at least one training prompt");
}

PpoObjective::~PpoObjective() = default;

int64_t PpoObjective::micro_per_rollout() const {
  return int64_t(cfg_.ppo_epochs) * cfg_.rollout_batch / B_;
}

std::vector<TrainableGroup> PpoObjective::trainable() {
  // Only the policy: the critic is fit in closed form between rollouts (fit_value_head).
  ParamArena& p = policy_.trainable_params();
  ParamArena& g = policy_.trainable_grads();
  return {{"", p.data(), g.data(), p.numel(), param_segments(policy_)}};
}

int64_t PpoObjective::tokens_per_micro() const {
  // Response tokens trained per micro-batch at the length cap (the loop needs a constant).
  return int64_t(B_) * cfg_.max_new_tokens;
}

double PpoObjective::flops_per_micro() const {
  return policy_.flops_per_token(cfg_.max_new_tokens) * double(tokens_per_micro());
}

void PpoObjective::begin_step(int64_t) {
  const int64_t index = pos_ / micro_per_rollout();
  if (!ro_ || ro_->index != index) collect(index);
  step_kl_sum_ = 0;
}

double PpoObjective::micro_step(float scale, std::map<std::string, double>& extra) {
  const int64_t mpr = micro_per_rollout(), per_epoch = cfg_.rollout_batch / B_;
  const int64_t m = pos_ % mpr, epoch = m / per_epoch, mb = m % per_epoch;
  // Each PPO epoch visits the rollout rows in its own seeded order.
  std::vector<size_t> order(size_t(cfg_.rollout_batch));
  std::iota(order.begin(), order.end(), size_t(0));
  Rng rng(seed_for(cfg_.seed,
                   "ppo-minibatch-" + std::to_string(ro_->index) + "-" + std::to_string(epoch)));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  std::vector<const Rollout::Row*> rows;
  std::vector<const std::vector<int32_t>*> pp, rr;
  for (int b = 0; b < B_; ++b) {
    rows.push_back(&ro_->rows[order[size_t(mb * B_ + b)]]);
    pp.push_back(&rows.back()->prompt);
    rr.push_back(&rows.back()->response);
  }
  ppo_detail::PaddedRows p = ppo_detail::pad_rows(pp, rr);
  const int T = p.T, V = policy_.config().vocab_size, C = policy_.config().n_embd;
  const size_t N = size_t(B_) * T, K = p.at.size();
  std::vector<float> old_logp, old_v, adv, ret;
  for (const auto* r : rows) {
    old_logp.insert(old_logp.end(), r->old_logp.begin(), r->old_logp.end());
    old_v.insert(old_v.end(), r->old_v.begin(), r->old_v.end());
    adv.insert(adv.end(), r->adv.begin(), r->adv.end());
    ret.insert(ret.end(), r->ret.begin(), r->ret.end());
  }

  const float* logits = policy_.forward_logits(p.ids.data(), B_, T);  // (B,T,V)
  std::vector<float> lp_full(N), ent_full(N);
  token_logprobs(logits, p.targets.data(), N, V, lp_full.data(), ent_full.data(), cfg_.temperature);
  const float* h = policy_.last_hidden();  // (B,T,C)
  std::vector<float> lp(K), v(K);
  double ent = 0;
  for (size_t k = 0; k < K; ++k) {
    const size_t at = p.at[k];
    lp[k] = lp_full[at];
    ent += ent_full[at] / double(K);
    double s = vhead_[size_t(C)];
    for (int c = 0; c < C; ++c) s += double(h[at * C + c]) * vhead_[size_t(c)];
    v[k] = float(s);
  }
  std::vector<float> dlp(K), dv(K);
  PpoPolicyLoss pg = ppo_policy_loss(lp.data(), old_logp.data(), adv.data(), nullptr, K, cfg_.clip,
                                     scale, dlp.data());
  // The critic's error on this minibatch, for metrics only (it is fit between rollouts).
  PpoValueLoss vl =
      ppo_value_loss(v.data(), old_v.data(), ret.data(), nullptr, K, 0.0, 0.0f, dv.data());

  // Backward: dlogits from the log-prob (and entropy) head.
  std::vector<float> dlp_full(N, 0.0f), dent_full;
  if (cfg_.entropy_coef > 0) dent_full.assign(N, 0.0f);
  for (size_t k = 0; k < K; ++k) {
    const size_t at = p.at[k];
    dlp_full[at] = dlp[k];
    if (!dent_full.empty()) dent_full[at] = float(-cfg_.entropy_coef * scale / double(K));
  }
  token_logprobs_backward(policy_.logits_buffer(), p.targets.data(), dlp_full.data(),
                          dent_full.empty() ? nullptr : dent_full.data(), p.mask.data(), N, V,
                          cfg_.temperature);
  policy_.backward_from(policy_.logits_buffer(), nullptr);

  double len = 0;
  for (const auto* r : rows) len += double(r->response.size()) / B_;
  extra["reward_mean"] += ro_->reward_mean;
  extra["kl"] += ro_->kl;
  extra["kl_coef"] += kl_coef_;
  extra["entropy"] += ent;
  extra["clip_frac"] += pg.clip_frac;
  extra["approx_kl"] += pg.approx_kl;
  extra["policy_loss"] += pg.loss;
  extra["value_loss"] += vl.loss;
  extra["response_len"] += ro_->response_len;
  extra["unfinished"] += ro_->unfinished;
  extra["minibatch_response_len"] += len;

  ++pos_;
  step_kl_sum_ += pg.approx_kl;
  if (pos_ % accum_ == 0 && cfg_.target_kl > 0 && comm().size() > 1) {  // every rank decides alike
    comm().all_reduce(&step_kl_sum_, 1);
    step_kl_sum_ /= comm().size();
  }
  if (pos_ % accum_ == 0 && cfg_.target_kl > 0 && pos_ % mpr != 0 &&
      step_kl_sum_ / accum_ > 1.5 * cfg_.target_kl) {
    // The policy moved too far from the one that sampled this batch: skip its remaining epochs
    // (the next step collects a fresh batch), as OpenAI's and SB3's PPO do with target_kl.
    std::fprintf(stderr,
                 "note: approx KL %.4f > 1.5 x --target-kl %.4f: ending the PPO epochs of rollout "
                 "%lld early\n",
                 step_kl_sum_ / accum_, cfg_.target_kl, static_cast<long long>(ro_->index));
    pos_ = (pos_ / mpr + 1) * mpr;
  }
  return pg.loss - cfg_.entropy_coef * ent;
}

void PpoObjective::save_extra(const fs::path& dir) const {
  const int64_t C = policy_.config().n_embd;
  save_safetensors(dir / kValueHeadFile, {{"v_head.weight", DType::kF32, {1, C}, vhead_.data()},
                                          {"v_head.bias", DType::kF32, {1}, vhead_.data() + C}});
  json j = {{"format", "lmforge-ppo-state"}, {"version", 2}, {"kl_coef", kl_coef_}};
  if (ro_) {
    json rows = json::array();
    for (const auto& r : ro_->rows)
      rows.push_back({{"prompt", r.prompt},
                      {"response", r.response},
                      {"old_logp", r.old_logp},
                      {"old_v", r.old_v},
                      {"adv", r.adv},
                      {"ret", r.ret}});
    j["rollout"] = {{"index", ro_->index},
                    {"reward_mean", ro_->reward_mean},
                    {"kl", ro_->kl},
                    {"response_len", ro_->response_len},
                    {"unfinished", ro_->unfinished},
                    {"rows", rows}};
  }
  write_file_atomic(dir / kStateFile, j.dump());
}

void PpoObjective::load_extra(const fs::path& dir) {
  const size_t C = size_t(policy_.config().n_embd);
  SafetensorsFile vh = SafetensorsFile::open(dir / kValueHeadFile);
  vh.read_f32("v_head.weight", vhead_.data(), C);
  vh.read_f32("v_head.bias", vhead_.data() + C, 1);
  const fs::path f = dir / kStateFile;
  json j = json::parse(read_file(f), nullptr, false);
  if (j.is_discarded() || j.value("format", "") != "lmforge-ppo-state")
    throw InputError(f.string(), 0, "format", "not an lmforge PPO state file");
  try {
    kl_coef_ = j.at("kl_coef").get<double>();
    ro_.reset();
    if (j.contains("rollout")) {
      const json& r = j["rollout"];
      auto ro = std::make_unique<Rollout>();
      ro->index = r.at("index").get<int64_t>();
      ro->reward_mean = r.at("reward_mean").get<double>();
      ro->kl = r.at("kl").get<double>();
      ro->response_len = r.at("response_len").get<double>();
      ro->unfinished = r.value("unfinished", 0.0);
      for (const auto& x : r.at("rows")) {
        Rollout::Row row;
        x.at("prompt").get_to(row.prompt);
        x.at("response").get_to(row.response);
        x.at("old_logp").get_to(row.old_logp);
        x.at("old_v").get_to(row.old_v);
        x.at("adv").get_to(row.adv);
        x.at("ret").get_to(row.ret);
        ro->rows.push_back(std::move(row));
      }
      if (ro->rows.size() != size_t(cfg_.rollout_batch))
        throw InputError(f.string(), 0, "rollout.rows", "holds a rollout of another size");
      ro_ = std::move(ro);
    }
  } catch (const json::exception& e) {
    throw InputError(f.string(), 0, "", std::string("malformed PPO state: ") + e.what());
  }
}

}  // namespace lmforge
