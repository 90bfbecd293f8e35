// Reward model training around the one trainer loop (reward_train.h): the ranking objective,
// the held-out evaluation, and the scoring head and reward_config.json that finish_stage puts
// into RUN/final/ next to the (merged) model.
// Not here: the stage setup and final/ itself (stage.cpp), the scoring head (reward_model.cpp).
#include "lmforge/train/reward_train.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/datasets.h"
#include "lmforge/loss/ranking.h"
#include "lmforge/model/lora.h"
#include "lmforge/train/early_stop.h"
#include "lmforge/train/reward_data.h"
#include "lmforge/train/reward_model.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class RewardObjective : public Objective {
 public:
  RewardObjective(Transformer& model, ScoreHead& head, const std::vector<EncodedRanking>& data,
                  int rankings_per_micro, RankingLoss kind, uint64_t seed)
      : model_(model),
        head_(head),
        data_(data),
        per_micro_(rankings_per_micro),
        kind_(kind),
        order_(data.size(), seed) {
    double rows = 0, toks = 0;
    for (const auto& r : data)
      for (size_t k = 0; k < r.rows(); ++k) {
        rows += 1;
        toks += double(r.prompt.size() + r.responses[k].size());
      }
    avg_len_ = int(toks / std::max(rows, 1.0)) + 1;
    tokens_per_micro_ = int64_t(toks / double(data.size()) * per_micro_);
  }
  Transformer& model() override { return model_; }
  std::vector<TrainableGroup> trainable() override {
    ParamArena& p = model_.trainable_params();
    ParamArena& g = model_.trainable_grads();
    return {{"", p.data(), g.data(), p.numel(), param_segments(model_)}, head_.group()};
  }
  double micro_step(float scale, std::map<std::string, double>& extra) override {
    std::vector<const EncodedRanking*> rs;
    position_ += items_before(per_micro_);  // data parallel: this rank's slice (dist)
    for (int i = 0; i < per_micro_; ++i) rs.push_back(&data_[order_.at(position_++)]);
    position_ += items_after(per_micro_);
    PaddedRankings b = pad_rankings(rs);
    const float* h = model_.forward_hidden(b.ids.data(), b.B, b.T);
    std::vector<double> scores(size_t(b.B)), dscores(size_t(b.B));
    head_.forward(h, b.B, b.T, b.last, scores.data());
    double loss = 0, acc = 0, margin = 0;
    const double n = double(rs.size());
    for (size_t i = 0; i < rs.size(); ++i) {
      std::span<const double> s(scores.data() + b.first_row[i], rs[i]->rows());
      std::span<double> g(dscores.data() + b.first_row[i], rs[i]->rows());
      loss += ranking_loss(kind_, s, g) / n;
      PairAgreement a = pair_agreement(s);
      acc += a.accuracy / n;
      margin += a.margin / n;
    }
    for (double& d : dscores) d *= double(scale) / n;  // mean over rankings, times the step scale
    dhidden_.resize(size_t(b.B) * b.T * model_.config().n_embd);
    head_.backward(h, b.B, b.T, b.last, dscores.data(), dhidden_.data());
    model_.backward_from(nullptr, dhidden_.data());
    extra["train_accuracy"] += acc;
    extra["train_margin"] += margin;
    return loss;
  }
  int64_t tokens_per_micro() const override { return tokens_per_micro_; }
  double flops_per_micro() const override {
    return model_.flops_per_token(avg_len_) * double(tokens_per_micro_);
  }
  int64_t position() const override { return position_; }
  void set_position(int64_t p) override { position_ = p; }
  void save_extra(const fs::path& dir) const override { head_.save(dir / kScoreHeadFile); }
  void load_extra(const fs::path& dir) override { head_.read(dir / kScoreHeadFile); }

 private:
  Transformer& model_;
  ScoreHead& head_;
  const std::vector<EncodedRanking>& data_;
  int per_micro_;
  RankingLoss kind_;
  ShuffledOrder order_;
  int64_t position_ = 0;
  int avg_len_ = 1;
  int64_t tokens_per_micro_ = 0;
  std::vector<float> dhidden_;
};

// Ranking loss, pair accuracy and margin over a set of rankings (pairs pooled).
std::map<std::string, double> evaluate_rankings(Transformer& model, const ScoreHead& head,
                                                const std::vector<EncodedRanking>& data,
                                                RankingLoss kind, int per_batch) {
  double loss = 0, right = 0, margin = 0;
  int64_t pairs = 0;
  for (size_t i0 = 0; i0 < data.size(); i0 += size_t(per_batch)) {
    std::vector<const EncodedRanking*> rs;
    for (size_t i = i0; i < std::min(data.size(), i0 + size_t(per_batch)); ++i)
      rs.push_back(&data[i]);
    PaddedRankings b = pad_rankings(rs);
    const float* h = model.forward_hidden(b.ids.data(), b.B, b.T);
    std::vector<double> scores(size_t(b.B)), g(size_t(b.B));
    head.forward(h, b.B, b.T, b.last, scores.data());
    for (size_t i = 0; i < rs.size(); ++i) {
      std::span<const double> s(scores.data() + b.first_row[i], rs[i]->rows());
      loss += ranking_loss(kind, s, std::span<double>(g.data(), s.size()));
      PairAgreement a = pair_agreement(s);
      right += a.accuracy * double(a.pairs);
      margin += a.margin * double(a.pairs);
      pairs += a.pairs;
    }
  }
  return {{"val_loss", loss / double(data.size())},
          {"reward_accuracy", right / double(pairs)},
          {"margin", margin / double(pairs)}};
}

}  // namespace

StageOptions reward_default_stage_options() {
  StageOptions o;
  o.lr = 1e-4;
  o.batch_size = 4;
  return o;
}

int epochs_for_min_steps(const StageOptions& o, int64_t items_per_epoch, int64_t min_steps) {
  if (o.max_steps > 0 || min_steps <= 0 || items_per_epoch <= 0) return o.epochs;
  const int64_t per_step = int64_t(o.batch_size) * o.grad_accum;
  const int64_t need = (min_steps * per_step + items_per_epoch - 1) / items_per_epoch;
  return int(std::clamp<int64_t>(need, o.epochs, 1000));
}

void apply_min_steps(const char* stage, StageOptions& o, int64_t items_per_epoch,
                     int64_t min_steps) {
  const int before = o.epochs;
  o.epochs = epochs_for_min_steps(o, items_per_epoch, min_steps);
  if (o.epochs != before)
    std::fprintf(stderr,
                 "%s: %lld rankings make few steps per epoch; training %d epochs to reach "
                 "--min-steps %lld\n",
                 stage, static_cast<long long>(items_per_epoch), o.epochs,
                 static_cast<long long>(min_steps));
}

RewardTrainResult run_reward(const RewardTrainOptions& opts, const TrainHooks& test_hooks) {
  // ---- validate everything before writing anything ----
  StageOptions o = opts.stage;
  validate_stage_options(o);
  if (opts.min_steps < 0) throw UsageError("--min-steps must be >= 0");
  const RankingLoss kind = parse_ranking_loss(opts.loss);
  ModelConfig mc = read_init_config(o.init);
  Tokenizer tok = Tokenizer::load(o.init);
  ResponseRenderer renderer(tok);
  std::vector<EncodedRanking> all =
      encode_rankings(opts.data, read_rankings_jsonl(opts.data), renderer, mc.n_ctx);
  std::vector<EncodedRanking> train, val;
  split_rankings(std::move(all), opts.val_fraction, o.seed, train, val);
  apply_min_steps("reward", o, int64_t(train.size()), opts.min_steps);
  const int64_t total = stage_total_steps(o, int64_t(train.size()));
  const bool select = !val.empty() && !opts.keep_last;
  if (select && o.eval_every == 0) o.eval_every = selection_eval_every(total);
  std::vector<fs::path> tok_files;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (fs::exists(o.init / f)) tok_files.push_back(o.init / f);
  const std::vector<EncodedRanking>& eval_set = val.empty() ? train : val;
  if (val.empty())
    std::fprintf(stderr,
                 "note: --val-fraction 0: reward_accuracy is measured on the training "
                 "rankings\n");
  std::fprintf(stderr, "reward: %zu training rankings, %zu held out; rendering %s; %s loss\n",
               train.size(), val.size(), renderer.mode(), ranking_loss_name(kind));

  // ---- from here on we write ----
  json resume_config = {{"data", opts.data.string()},
                        {"loss", ranking_loss_name(kind)},
                        {"val_fraction", opts.val_fraction},
                        {"train_rankings", train.size()}};
  StageRun run = begin_stage("reward", o, resume_config, total, tok_files);
  Transformer& m = *run.model;
  ScoreHead head(mc.n_embd);
  if (run.resumed_from)
    head.read(*run.resumed_from / kScoreHeadFile);
  else
    head.init(o.seed);
  const int eval_batch = std::max(1, o.batch_size);
  TrainHooks hooks = test_hooks;
  hooks.eval = [&]() { return evaluate_rankings(m, head, eval_set, kind, eval_batch); };
  stage_start_metrics(run, [&]() {
    std::map<std::string, double> ev = hooks.eval();
    return json{{"val_loss", ev["val_loss"]},
                {"reward_accuracy", ev["reward_accuracy"]},
                {"margin", ev["margin"]}};
  });
  EarlyStopConfig sc;
  sc.metric = "reward_accuracy";
  sc.higher_is_better = true;
  sc.tie_metric = "val_loss";
  sc.patience = opts.early_stop_patience;
  TrainableGroup hg = head.group();
  BestWeights best(
      o.output / "best_weights.bin", sc,
      {{m.trainable_params().data(), m.trainable_params().numel()}, {hg.params, hg.numel}},
      writes_files(o));
  if (select) {
    std::map<std::string, double> start;
    for (const auto& [k, v] : run.start.items())
      if (v.is_number()) start[k] = v.get<double>();
    attach_best_weights(best, hooks, run.resumed_from.has_value(), start);
  }
  RewardObjective objective(m, head, train, o.batch_size, kind, o.seed);
  RewardTrainResult res;
  res.train = run_stage_loop(run, objective, hooks);
  if (select) finish_best_weights(best, res.train, "reward");
  if (res.train.interrupted) return res;

  // ---- final/: a self-contained reward model directory (finish_stage writes it) ----
  const std::map<std::string, double>& ev = res.train.last_eval;
  const double acc = ev.count("reward_accuracy") ? ev.at("reward_accuracy") : 0.0;
  const double margin = ev.count("margin") ? ev.at("margin") : 0.0;
  const json info = {{"format", kRewardFormat},
                     {"version", kRewardVersion},
                     {"rendering", renderer.mode()},
                     {"end_token_id", renderer.end_id()},
                     {"loss", ranking_loss_name(kind)},
                     {"hidden_size", mc.n_embd},
                     {"tokenizer_hash", tok.content_hash()},
                     {"base_model", fs::absolute(o.init).lexically_normal().string()},
                     {"train_rankings", train.size()},
                     {"val_rankings", val.size()},
                     {"reward_accuracy", acc},
                     {"steps", res.train.steps_done}};
  StageFinal extra;
  extra.whole_model = true;  // the scorer and PPO load the whole reward model from one place
  extra.files.push_back({kScoreHeadFile, [&](const fs::path& f) { head.save(f); }});
  extra.files.push_back(
      {kRewardConfigFile, [&](const fs::path& f) { write_file_atomic(f, info.dump(2) + "\n"); }});
  const json headline = {
      {"reward_accuracy", acc},
      {"margin", margin},
      {"reward_accuracy_on", val.empty() ? "train" : "val"},
      {"best_step", select && best.has_best() ? json(best.best_step()) : json(nullptr)},
      {"stopped_early", res.train.stopped_early}};
  res.final_dir = finish_stage(run, res.train, headline, extra);
  res.summary = json::parse(read_file(o.output / "summary.json"));
  return res;
}

}  // namespace lmforge
