// The supervised stage shared by finetune and instruct (see sft.h).
#include "lmforge/train/sft.h"

#include <cmath>
#include <cstdio>
#include <optional>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/train/early_stop.h"
#include "lmforge/train/sft_eval.h"
#include "lmforge/train/task_metrics.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

std::string metric_key(const std::string& metric) {
  if (metric == "exact") return "exact_match";
  if (metric == "contains") return "contains_answer";
  return metric;
}

std::vector<fs::path> tokenizer_files_of(const fs::path& model_dir) {
  std::vector<fs::path> out;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (fs::exists(model_dir / f)) out.push_back(model_dir / f);
  return out;
}

SftStageResult run_sft_stage(SftStageSpec spec, const TrainHooks& test_hooks) {
  const StageOptions& o = spec.stage;
  if (spec.train.empty())
    throw InputError("", 0, "", "no training example is left after fitting to the context",
                     "use shorter examples or a model with a longer context");
  SftBatchSource source(spec.train, o.batch_size, spec.T, spec.pack, spec.pad_id, o.seed);
  std::optional<ReplaySftSource> replay;
  int replay_targets = 0;
  if (spec.replay) {
    replay_targets = std::max(1, int(std::lround(source.trained_targets_per_row())));
    replay.emplace(source, *spec.replay, spec.replay_ratio, o.batch_size, spec.T, replay_targets,
                   o.seed);
  }
  // With replay an epoch of the examples needs more rows: the replay rows come on top.
  const int64_t rows = replay ? replay->rows_for(source.rows_per_epoch()) : source.rows_per_epoch();
  const int64_t total = stage_total_steps(o, rows);
  json rc = spec.resume_config;
  rc["seq_len"] = spec.T;
  rc["packing"] = spec.pack ? "pack" : "pad";
  rc["train_examples"] = spec.train.size();
  rc["val_examples"] = spec.val.size();
  if (spec.replay) {
    rc["replay"] = spec.replay_dir.string();
    rc["replay_ratio"] = spec.replay_ratio;
  }
  std::fprintf(stderr,
               "%s: %zu training examples (%lld rows of %d tokens per epoch, %s), %zu validation; "
               "%lld steps\n",
               spec.name.c_str(), spec.train.size(), static_cast<long long>(rows), spec.T,
               spec.pack ? "packed" : "padded", spec.val.size(), static_cast<long long>(total));
  if (spec.replay)
    std::fprintf(stderr,
                 "%s: %.0f%% of the rows are general text from %s (--replay), each training its "
                 "last %d tokens (the mean of an example row)\n",
                 spec.name.c_str(), 100.0 * spec.replay_ratio, spec.replay_dir.c_str(),
                 replay_targets);
  StageRun run = begin_stage(spec.name, o, rc, total, spec.tokenizer_files, spec.prepare);
  Transformer& m = *run.model;

  const std::string key = metric_key(spec.metric);
  auto measure = [&]() {
    std::map<std::string, double> out;
    if (!spec.val.empty()) {
      SftEval ev = evaluate_sft(m, spec.val, o.batch_size, spec.T);
      out["val_loss"] = ev.loss;
      out["token_accuracy"] = ev.token_accuracy;
    }
    if (!spec.gen_prompts.empty()) {
      auto ids =
          greedy_complete(m, *spec.tok, spec.gen_prompts, spec.eval_max_tokens, spec.stop_ids);
      std::vector<std::string> hyps;
      for (const auto& g : ids) hyps.push_back(spec.tok->decode(g));
      out[key] = text_metric(spec.metric, hyps, spec.gen_refs);
    }
    return out;
  };
  const bool evaluates = !spec.val.empty() || !spec.gen_prompts.empty();
  if (evaluates)
    stage_start_metrics(run, [&]() {
      json j = json::object();
      for (auto& [k, v] : measure()) j[k] = v;
      return j;
    });
  else
    std::fprintf(stderr, "note: no validation examples: nothing is evaluated\n");

  TrainHooks hooks = test_hooks;
  if (evaluates) hooks.eval = measure;
  EarlyStopConfig sc;
  const bool gen = !spec.gen_prompts.empty() && spec.select_on_generation;
  sc.metric = gen ? key : "val_loss";
  sc.higher_is_better = gen;
  if (gen && !spec.val.empty()) sc.tie_metric = "val_loss";
  sc.patience = spec.early_stop_patience;
  BestWeights best(o.output / "best_weights.bin", sc,
                   {{m.trainable_params().data(), m.trainable_params().numel()}}, writes_files(o));
  if (evaluates && spec.select_best && o.eval_every == 0 && spec.auto_evals > 0)
    run.loop.eval_every = selection_eval_every(total, spec.auto_evals);
  const bool select = (gen || !spec.val.empty()) && spec.select_best && run.loop.eval_every > 0;
  if (select) {
    std::map<std::string, double> start;
    for (const auto& [k, v] : run.start.items())
      if (v.is_number()) start[k] = v.get<double>();
    attach_best_weights(best, hooks, run.resumed_from.has_value(), start);
  }
  SftStageResult res;
  res.total_steps = total;
  BatchSource& batches = replay ? static_cast<BatchSource&>(*replay) : source;
  LanguageModelObjective objective(m, batches, o.batch_size, spec.T);
  res.train = run_stage_loop(run, objective, hooks);
  if (select) finish_best_weights(best, res.train, spec.name);
  res.start = run.start;
  res.last = json::object();
  for (auto& [k, v] : res.train.last_eval) res.last[k] = v;

  json headline = json::object();
  if (!spec.gen_prompts.empty() && res.last.contains(key)) {
    json start = run.start.contains(key) ? run.start[key] : json(nullptr);
    if (spec.headline == "task_metric")
      headline["task_metric"] = {{"name", key}, {"value", res.last[key]}, {"start", start}};
    else {
      headline[spec.headline] = res.last[key];
      headline["start"] = run.start;
      headline["start"][spec.headline] = start;
    }
    headline["eval_metric"] = key;
  }
  if (res.last.contains("token_accuracy")) headline["token_accuracy"] = res.last["token_accuracy"];
  if (select && best.has_best()) {
    headline["best_step"] = best.best_step();
    headline["stopped_early"] = res.train.stopped_early;
  }
  res.final_dir = finish_stage(run, res.train, headline);
  if (!res.final_dir.empty()) res.summary = json::parse(read_file(o.output / "summary.json"));
  return res;
}

}  // namespace lmforge
