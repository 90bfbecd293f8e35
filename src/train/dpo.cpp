// DPO around the one trainer loop (dpo.h): the response log-prob head (log-softmax gather and
// its gradient written into the logits buffer), the cached reference log-probs, the held-out
// evaluation with KL to the reference, and the stage setup.
#include "lmforge/train/dpo.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <span>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/datasets.h"
#include "lmforge/loss/dpo.h"
#include "lmforge/train/early_stop.h"
#include "lmforge/train/reward_train.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kRefFile = "ref_logprobs.json";
constexpr const char* kRefFormat = "lmforge-dpo-reference";

// Rankings as (B,T) next-token rows: ids = prompt + response; targets are the next token at the
// positions that predict a response token, -1 elsewhere (prompt and padding).
struct LmBatch : PaddedRankings {
  std::vector<int32_t> targets;
};

LmBatch make_lm_batch(const std::vector<const EncodedRanking*>& rs) {
  LmBatch b;
  static_cast<PaddedRankings&>(b) = pad_rankings(rs);
  b.targets.assign(b.ids.size(), -1);
  const size_t T = size_t(b.T);
  size_t row = 0;
  for (const EncodedRanking* r : rs)
    for (size_t k = 0; k < r->rows(); ++k, ++row) {
      const int32_t* ids = b.ids.data() + row * T;
      // Position t predicts token t+1: the response tokens P..L-1 are predicted at P-1..L-2.
      for (size_t t = std::max<size_t>(r->prompt.size(), 1) - 1; int(t) < b.last[row]; ++t)
        b.targets[row * T + t] = ids[t + 1];
    }
  return b;
}

// Pass 1 of the head: lse (B·T, at target positions) and the per-row sum of log p(target).
void row_logprobs(const float* logits, const LmBatch& b, int V, std::vector<double>& lse,
                  std::vector<double>& row_logp) {
  const size_t N = size_t(b.B) * b.T;
  lse.assign(N, 0.0);
  row_logp.assign(size_t(b.B), 0.0);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < N; ++i) {
    if (b.targets[i] < 0) continue;
    const float* l = logits + i * size_t(V);
    const float mx = *std::max_element(l, l + V);
    double z = 0;
    for (int v = 0; v < V; ++v) z += std::exp(double(l[v] - mx));
    lse[i] = double(mx) + std::log(z);
  }
  for (size_t i = 0; i < N; ++i)
    if (b.targets[i] >= 0)
      row_logp[i / size_t(b.T)] += double(logits[i * size_t(V) + size_t(b.targets[i])]) - lse[i];
}

// Pass 2: overwrites the logits with d loss/d logits = g_row·(onehot(target) − softmax) at target
// positions and 0 elsewhere (d log p(y)/d logit_v = 1[v = y] − p_v).
void write_dlogits(float* buf, const LmBatch& b, int V, const std::vector<double>& lse,
                   const std::vector<double>& g_row) {
  const size_t N = size_t(b.B) * b.T;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < N; ++i) {
    float* l = buf + i * size_t(V);
    if (b.targets[i] < 0) {
      std::fill(l, l + V, 0.0f);
      continue;
    }
    const double g = g_row[i / size_t(b.T)];
    for (int v = 0; v < V; ++v) l[v] = float(-g * std::exp(double(l[v]) - lse[i]));
    l[b.targets[i]] += float(g);
  }
}

// FNV-1a 64 over the reference's weights (every float's bits, in arena order): the cache key is
// what the reference IS, so retraining --init in place and resuming recomputes the cache, while
// moving or copying it does not.
uint64_t weights_hash(const Transformer& m) {
  uint64_t h = 1469598103934665603ull;
  const float* p = m.params().data();
  const size_t n = m.params().numel();
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, p + i, sizeof bits);
    h = (h ^ bits) * 1099511628211ull;
  }
  return h ^ uint64_t(n);
}

uint64_t fingerprint(const std::vector<EncodedRanking>& a, const std::vector<EncodedRanking>& b,
                     uint64_t weights) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  auto mix = [&h](uint64_t x) {
    for (int i = 0; i < 8; ++i) {
      h ^= (x >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix(weights);
  for (const auto* set : {&a, &b}) {
    mix(set->size());
    for (const auto& r : *set) {
      mix(r.prompt.size());
      for (int32_t t : r.prompt) mix(uint64_t(uint32_t(t)));
      for (const auto& resp : r.responses) {
        mix(resp.size());
        for (int32_t t : resp) mix(uint64_t(uint32_t(t)));
      }
    }
  }
  return h;
}

class DpoObjective : public Objective {
 public:
  DpoObjective(Transformer& model, const std::vector<EncodedRanking>& data,
               const std::vector<std::vector<double>>& ref, const DpoOptions& o)
      : model_(model),
        data_(data),
        ref_(ref),
        kind_(parse_ranking_loss(o.loss)),
        beta_(o.beta),
        sft_coef_(o.sft_coef),
        per_micro_(o.stage.batch_size),
        order_(data.size(), o.stage.seed) {
    double toks = 0;
    for (const auto& r : data)
      for (const auto& resp : r.responses) toks += double(r.prompt.size() + resp.size());
    tokens_per_micro_ = int64_t(toks / double(data.size()) * per_micro_);
  }
  Transformer& model() override { return model_; }
  std::vector<TrainableGroup> trainable() override {
    ParamArena& p = model_.trainable_params();
    ParamArena& g = model_.trainable_grads();
    return {{"", p.data(), g.data(), p.numel(), param_segments(model_)}};
  }
  double micro_step(float scale, std::map<std::string, double>& extra) override {
    std::vector<const EncodedRanking*> rs;
    std::vector<size_t> idx;
    position_ += items_before(per_micro_);  // data parallel: this rank's slice (dist)
    for (int i = 0; i < per_micro_; ++i) {
      idx.push_back(order_.at(position_++));
      rs.push_back(&data_[idx.back()]);
    }
    position_ += items_after(per_micro_);
    LmBatch b = make_lm_batch(rs);
    const int V = model_.config().vocab_size;
    const float* logits = model_.forward_logits(b.ids.data(), b.B, b.T);
    row_logprobs(logits, b, V, lse_, logp_);
    std::vector<double> g_row(size_t(b.B));
    const double n = double(rs.size());
    double loss = 0;
    for (size_t i = 0; i < rs.size(); ++i) {
      const size_t K = rs[i]->rows();
      std::span<const double> pol(logp_.data() + b.first_row[i], K);
      std::span<double> g(g_row.data() + b.first_row[i], K);
      DpoLossResult r = dpo_loss(kind_, beta_, pol, ref_[idx[i]], g);
      const size_t best_tokens = rs[i]->responses.front().size();
      loss += (r.loss + dpo_sft_term(sft_coef_, pol[0], best_tokens, g)) / n;
      extra["train_accuracy"] += r.accuracy / n;
      extra["train_margin"] += r.margin / n;
      extra["reward_best"] += r.reward_best / n;
      extra["reward_worst"] += r.reward_worst / n;
      extra["chosen_logp"] += pol[0] / double(best_tokens) / n;
    }
    for (double& g : g_row) g *= double(scale) / n;
    write_dlogits(model_.logits_buffer(), b, V, lse_, g_row);
    model_.backward_from(model_.logits_buffer(), nullptr);
    return loss;
  }
  int64_t tokens_per_micro() const override { return tokens_per_micro_; }
  double flops_per_micro() const override {
    return model_.flops_per_token(int(tokens_per_micro_ / std::max(1, per_micro_ * 2)) + 1) *
           double(tokens_per_micro_);
  }
  int64_t position() const override { return position_; }
  void set_position(int64_t p) override { position_ = p; }

 private:
  Transformer& model_;
  const std::vector<EncodedRanking>& data_;
  const std::vector<std::vector<double>>& ref_;
  RankingLoss kind_;
  double beta_, sft_coef_;
  int per_micro_;
  ShuffledOrder order_;
  int64_t position_ = 0;
  int64_t tokens_per_micro_ = 0;
  std::vector<double> lse_, logp_;
};

// DPO loss, implicit-reward pair accuracy and margin, and per-token KL(π‖π_ref) on held-out data.
std::map<std::string, double> evaluate_dpo(Transformer& policy, Transformer& reference,
                                           const std::vector<EncodedRanking>& data,
                                           const std::vector<std::vector<double>>& ref_logp,
                                           const DpoOptions& o) {
  const RankingLoss kind = parse_ranking_loss(o.loss);
  const int V = policy.config().vocab_size;
  const size_t per = size_t(std::max(1, o.stage.batch_size));
  double loss = 0, right = 0, margin = 0, kl = 0, chosen = 0, chosen_ref = 0;
  int64_t pairs = 0, tokens = 0;
  std::vector<double> lse_p, lse_q, logp, unused;
  for (size_t i0 = 0; i0 < data.size(); i0 += per) {
    std::vector<const EncodedRanking*> rs;
    for (size_t i = i0; i < std::min(data.size(), i0 + per); ++i) rs.push_back(&data[i]);
    LmBatch b = make_lm_batch(rs);
    const float* lp = policy.forward_logits(b.ids.data(), b.B, b.T);
    row_logprobs(lp, b, V, lse_p, logp);
    const float* lq = reference.forward_logits(b.ids.data(), b.B, b.T);
    row_logprobs(lq, b, V, lse_q, unused);
    for (size_t i = 0; i < b.targets.size(); ++i) {
      if (b.targets[i] < 0) continue;
      const float *p = lp + i * size_t(V), *q = lq + i * size_t(V);
      double s = 0;
      for (int v = 0; v < V; ++v) {
        const double log_p = double(p[v]) - lse_p[i], log_q = double(q[v]) - lse_q[i];
        s += std::exp(log_p) * (log_p - log_q);
      }
      kl += s;
      ++tokens;
    }
    for (size_t i = 0; i < rs.size(); ++i) {
      const size_t K = rs[i]->rows();
      std::vector<double> g(K);
      DpoLossResult r =
          dpo_loss(kind, o.beta, std::span<const double>(logp.data() + b.first_row[i], K),
                   ref_logp[i0 + i], g);
      const double np = double(K * (K - 1) / 2);
      const double best_tokens = double(rs[i]->responses.front().size());
      chosen += logp[b.first_row[i]] / best_tokens;
      chosen_ref += ref_logp[i0 + i][0] / best_tokens;
      loss += r.loss;
      right += r.accuracy * np;
      margin += r.margin * np;
      pairs += int64_t(np);
    }
  }
  return {{"val_loss", loss / double(data.size())},
          {"reward_accuracy", right / double(pairs)},
          {"margin", margin / double(pairs)},
          {"kl", tokens ? kl / double(tokens) : 0.0},
          // Mean per-token log-likelihood of the preferred answers under the policy and the
          // reference: DPO's known failure is this falling while the margin grows.
          {"chosen_logp", chosen / double(data.size())},
          {"chosen_logp_ref", chosen_ref / double(data.size())},
          // What training lowers, on held-out rankings: the selection measure.
          {"val_objective", (loss - o.sft_coef * chosen) / double(data.size())}};
}

json ref_to_json(const std::vector<std::vector<double>>& v) {
  json a = json::array();
  for (const auto& r : v) a.push_back(r);
  return a;
}

// The cached reference log-probs when the file matches `fp` and the data's shape.
bool read_ref_cache(const fs::path& file, uint64_t fp, std::vector<std::vector<double>>& train,
                    std::vector<std::vector<double>>& val, size_t n_train, size_t n_val) {
  if (!fs::exists(file)) return false;
  json j = json::parse(read_file(file), nullptr, false);
  if (!j.is_object() || j.value("format", "") != kRefFormat ||
      j.value("fingerprint", "") != std::to_string(fp) || !j["train"].is_array() ||
      !j["val"].is_array() || j["train"].size() != n_train || j["val"].size() != n_val)
    return false;
  train = j["train"].get<std::vector<std::vector<double>>>();
  val = j["val"].get<std::vector<std::vector<double>>>();
  return true;
}

}  // namespace

std::vector<std::vector<double>> response_logprobs(Transformer& model,
                                                   const std::vector<EncodedRanking>& rankings,
                                                   int per_batch) {
  std::vector<std::vector<double>> out;
  std::vector<double> lse, logp;
  const int V = model.config().vocab_size;
  for (size_t i0 = 0; i0 < rankings.size(); i0 += size_t(per_batch)) {
    std::vector<const EncodedRanking*> rs;
    for (size_t i = i0; i < std::min(rankings.size(), i0 + size_t(per_batch)); ++i)
      rs.push_back(&rankings[i]);
    LmBatch b = make_lm_batch(rs);
    row_logprobs(model.forward_logits(b.ids.data(), b.B, b.T), b, V, lse, logp);
    for (size_t i = 0; i < rs.size(); ++i)
      out.emplace_back(logp.begin() + long(b.first_row[i]),
                       logp.begin() + long(b.first_row[i] + rs[i]->rows()));
  }
  return out;
}

StageOptions dpo_default_stage_options() {
  StageOptions o;
  o.lr = 1e-5;
  o.batch_size = 4;
  return o;
}

DpoResult run_dpo(const DpoOptions& opts, const TrainHooks& test_hooks) {
  // ---- validate everything before writing anything ----
  StageOptions o = opts.stage;
  validate_stage_options(o);
  const RankingLoss kind = parse_ranking_loss(opts.loss);
  if (opts.min_steps < 0) throw UsageError("--min-steps must be >= 0");
  if (!(opts.beta > 0)) throw UsageError("--beta must be > 0 (typical: 0.1)");
  if (!(opts.sft_coef >= 0)) throw UsageError("--sft-coef must be >= 0 (0: plain DPO)");
  ModelConfig mc = read_init_config(o.init);
  Tokenizer tok = Tokenizer::load(o.init);
  ResponseRenderer renderer(tok);
  std::vector<EncodedRanking> all =
      encode_rankings(opts.data, read_rankings_jsonl(opts.data), renderer, mc.n_ctx);
  std::vector<EncodedRanking> train, val;
  split_rankings(std::move(all), opts.val_fraction, o.seed, train, val);
  apply_min_steps("dpo", o, int64_t(train.size()), opts.min_steps);
  const std::vector<EncodedRanking>& eval_set = val.empty() ? train : val;
  const int64_t total = stage_total_steps(o, int64_t(train.size()));
  // Selection needs held-out rankings and more than the final evaluation.
  const bool select = !val.empty() && !opts.keep_last;
  if (select && o.eval_every == 0) o.eval_every = selection_eval_every(total);
  std::vector<fs::path> tok_files;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (fs::exists(o.init / f)) tok_files.push_back(o.init / f);
  std::fprintf(stderr,
               "dpo: %zu training rankings, %zu held out; rendering %s; %s loss, beta %g, "
               "sft-coef %g\n",
               train.size(), val.size(), renderer.mode(), ranking_loss_name(kind), opts.beta,
               opts.sft_coef);
  if (val.empty())
    std::fprintf(stderr,
                 "note: --val-fraction 0: evaluation uses the training rankings (no held-out "
                 "selection of the best step)\n");

  // ---- from here on we write ----
  json resume_config = {{"data", opts.data.string()},
                        {"loss", ranking_loss_name(kind)},
                        {"beta", opts.beta},
                        {"sft_coef", opts.sft_coef},
                        {"val_fraction", opts.val_fraction},
                        {"train_rankings", train.size()}};
  StageRun run = begin_stage("dpo", o, resume_config, total, tok_files);
  Transformer reference = Transformer::load(o.init);
  const int per = std::max(1, o.batch_size);
  const uint64_t fp = fingerprint(train, val, weights_hash(reference));
  std::vector<std::vector<double>> ref_train, ref_val;
  const fs::path ref_file = o.output / kRefFile;
  if (!read_ref_cache(ref_file, fp, ref_train, ref_val, train.size(), val.size())) {
    if (run.resumed_from)
      std::fprintf(stderr,
                   "note: %s is missing or stale; recomputing the reference "
                   "log-probs from --init (deterministic)\n",
                   ref_file.c_str());
    ref_train = response_logprobs(reference, train, per);
    ref_val = response_logprobs(reference, val, per);
    if (writes_files(o))  // data parallel: rank 0 writes (dist)
      write_file_atomic(ref_file, json{{"format", kRefFormat},
                                       {"version", 2},
                                       {"fingerprint", std::to_string(fp)},
                                       {"train", ref_to_json(ref_train)},
                                       {"val", ref_to_json(ref_val)}}
                                          .dump() +
                                      "\n");
  }
  Transformer& m = *run.model;
  const std::vector<std::vector<double>>& eval_ref = val.empty() ? ref_train : ref_val;
  TrainHooks hooks = test_hooks;
  DpoOptions eval_opts = opts;
  eval_opts.stage = o;
  hooks.eval = [&]() { return evaluate_dpo(m, reference, eval_set, eval_ref, eval_opts); };
  stage_start_metrics(run, [&]() {
    json j = json::object();
    for (const auto& [k, v] : hooks.eval()) j[k] = v;
    return j;
  });
  EarlyStopConfig sc;
  sc.metric = "val_objective";
  sc.patience = opts.early_stop_patience;
  BestWeights best(o.output / "best_weights.bin", sc,
                   {{m.trainable_params().data(), m.trainable_params().numel()}}, writes_files(o));
  if (select) {
    std::map<std::string, double> start;
    for (const auto& [k, v] : run.start.items())
      if (v.is_number()) start[k] = v.get<double>();
    attach_best_weights(best, hooks, run.resumed_from.has_value(), start);
  }
  DpoObjective objective(m, train, ref_train, eval_opts);
  DpoResult res;
  res.train = run_stage_loop(run, objective, hooks);
  if (select) finish_best_weights(best, res.train, "dpo");
  const std::map<std::string, double>& ev = res.train.last_eval;
  auto get = [&ev](const char* k) { return ev.count(k) ? json(ev.at(k)) : json(nullptr); };
  json headline = {
      {"reward_accuracy", get("reward_accuracy")},
      {"margin", get("margin")},
      {"kl", get("kl")},
      {"chosen_logp", get("chosen_logp")},
      {"chosen_logp_ref", get("chosen_logp_ref")},
      {"beta", opts.beta},
      {"sft_coef", opts.sft_coef},
      {"reward_accuracy_on", val.empty() ? "train" : "val"},
      {"val_objective", get("val_objective")},
      {"best_step", select && best.has_best() ? json(best.best_step()) : json(nullptr)},
      {"stopped_early", res.train.stopped_early}};
  if (ev.count("chosen_logp") && ev.count("chosen_logp_ref") &&
      ev.at("chosen_logp") < ev.at("chosen_logp_ref") - 0.1)
    std::fprintf(stderr,
                 "warning: the held-out preferred answers became less likely (%.3f -> %.3f nats "
                 "per token): DPO is pushing the rejected answers down faster than it keeps the "
                 "chosen ones (hint: raise --sft-coef or --beta, or lower --lr)\n",
                 ev.at("chosen_logp_ref"), ev.at("chosen_logp"));
  res.final_dir = finish_stage(run, res.train, headline);
  if (!res.train.interrupted)
    res.summary = json::parse(read_file(o.output / "summary.json"), nullptr, false);
  return res;
}

}  // namespace lmforge
