// `lmforge instruct`: option parsing only; the work is run_instruct() (train/instruct.h).
#include "lmforge/train/instruct.h"

#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/stage_options.h"

namespace lmforge::cli {
namespace {

struct Args {
  InstructOptions o;
  StagePaths paths;
  std::string data, val_data, heldout, replay;
};

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(
      root, "instruct",
      "Instruction-tune a model on chat JSONL ({\"messages\": [{\"role\", \"content\"}, ...]}): "
      "ChatML, loss on assistant turns only, held-out instructions scored by generation");
  auto a = std::make_shared<Args>();
  a->o.stage.lr = 3e-4;
  a->o.stage.epochs = 3;
  add_stage_options(cmd, a->o.stage, a->paths);
  cmd->add_option("--data", a->data,
                  "training chat JSONL: roles system, user, assistant; at least one assistant turn")
      ->required();
  cmd->add_option("--val-data", a->val_data,
                  "validation chat JSONL (default: split --val-fraction off --data)");
  cmd->add_option("--val-fraction", a->o.val_fraction,
                  "share of --data held out for the validation loss when --val-data is not given");
  cmd->add_option("--heldout", a->heldout,
                  "held-out chat JSONL whose last message is the reference assistant reply; the "
                  "model answers the rest by greedy generation (instruct_accuracy); default: the "
                  "validation conversations");
  cmd->add_option("--heldout-metric", a->o.heldout_metric,
                  "exact: the reply equals the reference (whitespace trimmed); contains: the "
                  "reply contains it")
      ->check(CLI::IsMember({"exact", "contains"}));
  cmd->add_option("--packing", a->o.packing,
                  "pack: several conversations per row, attention kept inside each; pad: one per "
                  "row")
      ->check(CLI::IsMember({"pack", "pad"}));
  cmd->add_option("--on-overflow", a->o.on_overflow,
                  "a conversation longer than the context: truncate (with a warning count) or "
                  "error")
      ->check(CLI::IsMember({"truncate", "error"}));
  cmd->add_option("--eval-max-tokens", a->o.eval_max_tokens,
                  "new tokens generated per held-out prompt (0: longest reference + 8)");
  cmd->add_option("--seq-len", a->o.seq_len, "row length T in tokens (0: the model's context)");
  cmd->add_option("--replay", a->replay,
                  "a `lmforge prepare` directory of general text (same tokenizer) mixed into the "
                  "training rows so the model does not forget it (default: none)");
  cmd->add_option("--replay-ratio", a->o.replay.ratio,
                  "share of training rows taken from --replay, spread evenly (deterministic)");
  cmd->add_option("--early-stop-patience", a->o.early_stop_patience,
                  "stop after this many evaluations without a better instruct_accuracy on the "
                  "validation conversations (val_loss with --heldout, which stays a test set); "
                  "0: never stop early");
  cmd->add_flag("--keep-last", a->o.keep_last,
                "write the last step's weights; by default the stage evaluates 5 times (or every "
                "--eval-every steps) and writes the best evaluation's weights");
  cmd->callback([cmd, a] {
    print_resolved_config(*cmd);
    InstructOptions o = a->o;
    finish_stage_options(o.stage, a->paths);
    o.stage.output = check_run_output(a->paths.output, {{"--init", a->paths.init},
                                                        {"--data", a->data},
                                                        {"--val-data", a->val_data},
                                                        {"--heldout", a->heldout}});
    o.data = a->data;
    o.val_data = a->val_data;
    o.replay.dir = a->replay;
    o.heldout = a->heldout;
    o.stage.resolved_config_yaml = resolved_config_yaml(*cmd);
    SftStageResult r = run_instruct(o);
    if (report_interrupted(r.train, r.total_steps)) return;
    std::fprintf(stderr, "done: %lld steps", static_cast<long long>(r.train.steps_done));
    if (r.summary.contains("instruct_accuracy") && r.summary["instruct_accuracy"].is_number()) {
      const auto& s = r.summary["start"];
      std::fprintf(stderr, ", instruct_accuracy %.4f (base model %.4f)",
                   r.summary["instruct_accuracy"].get<double>(),
                   s.contains("instruct_accuracy") && s["instruct_accuracy"].is_number()
                       ? s["instruct_accuracy"].get<double>()
                       : 0.0);
    }
    std::fprintf(stderr, "; output in %s\n", r.final_dir.c_str());
  });
}

const bool registered = register_command(34, setup);

}  // namespace
}  // namespace lmforge::cli
