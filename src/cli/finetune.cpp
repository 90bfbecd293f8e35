// `lmforge finetune`: option parsing only; the work is run_finetune() (train/finetune.h).
#include "lmforge/train/finetune.h"

#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/stage_options.h"

namespace lmforge::cli {
namespace {

struct Args {
  FinetuneOptions o;
  StagePaths paths;
  std::string data, val_data, replay;
};

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(
      root, "finetune",
      "Fine-tune a model on a task: prompt/completion JSONL (or Alpaca instruction/input/output), "
      "loss on the completion only, task metric by generation on the validation set");
  auto a = std::make_shared<Args>();
  a->o.stage.lr = 3e-4;
  a->o.stage.epochs = 3;
  add_stage_options(cmd, a->o.stage, a->paths);
  cmd->add_option("--data", a->data,
                  "training JSONL: {\"prompt\", \"completion\"} or {\"instruction\", \"input\", "
                  "\"output\"} per line")
      ->required();
  cmd->add_option("--val-data", a->val_data,
                  "validation JSONL in the same format (default: split --val-fraction off --data)");
  cmd->add_option("--val-fraction", a->o.val_fraction,
                  "share of --data held out for validation when --val-data is not given");
  cmd->add_option("--packing", a->o.packing,
                  "pack: several examples per row, attention kept inside each example; pad: one "
                  "example per row")
      ->check(CLI::IsMember({"pack", "pad"}));
  cmd->add_option("--on-overflow", a->o.on_overflow,
                  "an example longer than the context: truncate (with a warning count) or error")
      ->check(CLI::IsMember({"truncate", "error"}));
  cmd->add_option(
         "--eval-metric", a->o.eval_metric,
         "task metric by greedy generation on validation prompts: exact (match), "
         "contains (the answer), chrf, bleu (translation), rougeL (summaries); auto: exact "
         "when every reference has at most 3 words, else chrf")
      ->check(CLI::IsMember({"auto", "exact", "contains", "chrf", "bleu", "rougeL"}));
  cmd->add_option("--eval-max-tokens", a->o.eval_max_tokens,
                  "new tokens generated per validation prompt (0: longest reference + 8)");
  cmd->add_option("--eval-samples", a->o.eval_samples,
                  "validation prompts scored by generation (0: all)");
  cmd->add_option("--seq-len", a->o.seq_len, "row length T in tokens (0: the model's context)");
  cmd->add_option("--replay", a->replay,
                  "a `lmforge prepare` directory of general text (same tokenizer) mixed into the "
                  "training rows so the model does not forget it (default: none)");
  cmd->add_option("--replay-ratio", a->o.replay.ratio,
                  "share of training rows taken from --replay, spread evenly (deterministic)");
  cmd->callback([cmd, a] {
    print_resolved_config(*cmd);
    FinetuneOptions o = a->o;
    finish_stage_options(o.stage, a->paths);
    o.stage.output = check_run_output(
        a->paths.output,
        {{"--init", a->paths.init}, {"--data", a->data}, {"--val-data", a->val_data}});
    o.data = a->data;
    o.val_data = a->val_data;
    o.replay.dir = a->replay;
    o.stage.resolved_config_yaml = resolved_config_yaml(*cmd);
    SftStageResult r = run_finetune(o);
    if (report_interrupted(r.train, r.total_steps)) return;
    std::fprintf(stderr, "done: %lld steps", static_cast<long long>(r.train.steps_done));
    if (r.summary.contains("task_metric")) {
      const auto& t = r.summary["task_metric"];
      std::fprintf(stderr, ", %s %.4f (base model %.4f)", t["name"].get<std::string>().c_str(),
                   t["value"].get<double>(),
                   t["start"].is_number() ? t["start"].get<double>() : 0.0);
    }
    std::fprintf(stderr, "; output in %s\n", r.final_dir.c_str());
  });
}

const bool registered = register_command(32, setup);

}  // namespace
}  // namespace lmforge::cli
