// The supervised stage shared by finetune and instruct (see sft.h).
#include "lmforge/train/sft.h"

#include <cmath>
#include <cstdio>
#include <optional>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
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
  SftStageResult res;
  res.total_steps = total;
  BatchSource& batches = replay ? static_cast<BatchSource&>(*replay) : source;
  LanguageModelObjective objective(m, batches, o.batch_size, spec.T);
  res.train = run_stage_loop(run, objective, hooks);
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
  res.final_dir = finish_stage(run, res.train, headline);
  if (!res.final_dir.empty()) res.summary = json::parse(read_file(o.output / "summary.json"));
  return res;
}

}  // namespace lmforge
