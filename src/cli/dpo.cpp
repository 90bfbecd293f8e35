// `lmforge dpo`: option parsing only; the work is run_dpo() (train/dpo.h).
#include "lmforge/train/dpo.h"

#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/stage_options.h"

namespace lmforge::cli {
namespace {

struct Args {
  DpoOptions o;
  StagePaths paths;
  std::string data;
};

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(
      root, "dpo",
      "Align a model with rankings by Direct Preference Optimization against the frozen --init "
      "model (no reward model): all ordered pairs of each ranking, or Plackett-Luce listwise");
  auto a = std::make_shared<Args>();
  a->o.stage = dpo_default_stage_options();
  add_stage_options(cmd, a->o.stage, a->paths);
  cmd->get_option("--batch-size")
      ->description("rankings per micro-batch (all K responses of a ranking go in together)");
  cmd->add_option("--data", a->data,
                  "rankings JSONL: {\"prompt\", \"responses\": [best, ..., worst]} or "
                  "{\"prompt\", \"chosen\", \"rejected\"} per line")
      ->required();
  cmd->add_option("--beta", a->o.beta,
                  "strength of the implicit KL constraint: implicit reward = beta·(log pi − "
                  "log pi_ref); smaller lets the policy move further from the reference");
  cmd->add_option("--sft-coef", a->o.sft_coef,
                  "weight of the SFT term on each ranking's best answer (its mean per-token NLL, "
                  "as RPO adds): keeps the preferred answers likely; 0 = plain DPO");
  cmd->add_option("--min-steps", a->o.min_steps,
                  "without --max-steps, train at least this many steps (--epochs grows to reach "
                  "it; 0: exactly --epochs). Many epochs over a small ranking set can collapse "
                  "the policy: see docs/RLHF.md");
  cmd->add_option("--early-stop-patience", a->o.early_stop_patience,
                  "stop after this many held-out evaluations without a lower held-out objective "
                  "(DPO loss + sft-coef x the preferred answers' NLL); the best evaluation's "
                  "weights, the --init model's included, are the ones written (0: never stop "
                  "early, still keep the best)");
  cmd->add_flag("--keep-last", a->o.keep_last,
                "write the last step's weights even when an earlier held-out evaluation was "
                "better (no selection, no early stop)");
  cmd->add_option("--loss", a->o.loss,
                  "pairwise: -log sigmoid over all K(K-1)/2 ordered pairs of a ranking; listwise: "
                  "Plackett-Luce over the whole ranking")
      ->check(CLI::IsMember({"pairwise", "listwise"}));
  cmd->add_option("--val-fraction", a->o.val_fraction,
                  "share of the rankings held out for reward_accuracy, margin and KL (0: measure "
                  "on training data)");
  cmd->callback([cmd, a] {
    print_resolved_config(*cmd);
    DpoOptions o = a->o;
    finish_stage_options(o.stage, a->paths);
    o.stage.output =
        check_run_output(a->paths.output, {{"--init", a->paths.init}, {"--data", a->data}});
    o.data = a->data;
    o.stage.resolved_config_yaml = resolved_config_yaml(*cmd);
    DpoResult r = run_dpo(o);
    if (report_interrupted(r.train)) return;
    auto num = [&r](const char* k) {
      return r.summary.contains(k) && r.summary[k].is_number() ? r.summary[k].get<double>() : 0.0;
    };
    std::fprintf(stderr,
                 "done: %lld steps, held-out implicit reward accuracy %.4f, margin %.4f, KL to "
                 "the reference %.4f nats/token; output in %s\n",
                 static_cast<long long>(r.train.steps_done), num("reward_accuracy"), num("margin"),
                 num("kl"), r.final_dir.c_str());
  });
}

const bool registered = register_command(36, setup);

}  // namespace
}  // namespace lmforge::cli
