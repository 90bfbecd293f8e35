// `lmforge reward` (train a reward model) and `lmforge reward score` (score a file with one):
// option parsing only; the work is run_reward() (train/reward_train.h) and score_file()
// (train/reward_score.h).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/stage_options.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/output_guard.h"
#include "lmforge/train/reward_score.h"
#include "lmforge/train/reward_train.h"

namespace lmforge::cli {
namespace {

struct Args {
  RewardTrainOptions o;
  StagePaths paths;
  std::string data;
};

struct ScoreArgs {
  std::string model, data, output;
};

void add_score(CLI::App* parent) {
  auto a = std::make_shared<ScoreArgs>();
  CLI::App* cmd = add_command(*parent, "score",
                              "Score responses with a reward model: rankings JSONL (prints each "
                              "ranking's scores and how often they agree with its order) or "
                              "prompt/completion JSONL (one score per line)");
  cmd->add_option("--model", a->model, "reward model directory (RM/final of `lmforge reward`)")
      ->required();
  cmd->add_option("--data", a->data,
                  "rankings JSONL ({\"prompt\",\"responses\"} or {\"prompt\",\"chosen\","
                  "\"rejected\"}) or prompt/completion JSONL")
      ->required();
  cmd->add_option("--output", a->output,
                  "write the scores (JSONL, one object per input line) here instead of stdout");
  cmd->callback([a] {
    RewardModel rm = RewardModel::load(a->model);
    RewardScoreStats st;
    if (a->output.empty()) {
      st = score_file(rm, a->data, std::cout);
    } else {
      OutputSpec spec{"--output",
                      a->output,
                      OutputSpec::Kind::kFile,
                      {},
                      {},
                      jsonl_with_key({"score", "scores"}),
                      "a scores JSONL file"};
      const auto out = check_output(spec, {{"--model", a->model}, {"--data", a->data}});
      std::ostringstream buf;
      st = score_file(rm, a->data, buf);
      write_file_atomic(out, buf.str());
    }
    std::fprintf(stderr, "scored %lld responses of %lld examples, mean score %.4f",
                 static_cast<long long>(st.rows), static_cast<long long>(st.examples),
                 st.mean_score);
    if (st.rankings)
      std::fprintf(stderr, "; pair accuracy %.4f over %lld pairs", st.pair_accuracy,
                   static_cast<long long>(st.pairs));
    std::fprintf(stderr, "\n");
  });
}

void setup(CLI::App& root) {
  CLI::App* cmd =
      add_command(root, "reward",
                  "Train a reward model on rankings JSONL: the transformer with a scalar head on "
                  "the last token, Plackett-Luce (listwise) or Bradley-Terry (all pairs) loss; "
                  "`lmforge reward score` uses it");
  auto a = std::make_shared<Args>();
  a->o.stage = reward_default_stage_options();
  add_stage_options(cmd, a->o.stage, a->paths);
  // --init/--output are required for training only, not for `reward score`: checked in the
  // callback (validate_stage_options) instead of by CLI11.
  cmd->get_option("--init")->required(false);
  cmd->get_option("--output")->required(false);
  cmd->get_option("--merge")->description(
      "accepted for symmetry with the other stages: a reward model's final/ always holds the "
      "merged model (the scorer needs one directory); with LoRA the adapter goes to RUN/adapter/");
  cmd->get_option("--batch-size")
      ->description("rankings per micro-batch (all K responses of a ranking go in together)");
  cmd->add_option("--data", a->data,
                  "rankings JSONL: {\"prompt\", \"responses\": [best, ..., worst]} or "
                  "{\"prompt\", \"chosen\", \"rejected\"} per line");
  cmd->add_option("--loss", a->o.loss,
                  "listwise: Plackett-Luce over the whole ranking; pairwise: Bradley-Terry over "
                  "all K(K-1)/2 pairs of it")
      ->check(CLI::IsMember({"listwise", "pairwise"}));
  cmd->add_option("--val-fraction", a->o.val_fraction,
                  "share of the rankings held out for reward_accuracy (0: measure on training "
                  "data)");
  cmd->add_option("--min-steps", a->o.min_steps,
                  "without --max-steps, train at least this many steps (--epochs grows to reach "
                  "it; 0: exactly --epochs)");
  cmd->add_option("--early-stop-patience", a->o.early_stop_patience,
                  "stop after this many held-out evaluations without a better held-out "
                  "reward_accuracy; the best evaluation's weights are the ones written (0: never "
                  "stop early, still keep the best)");
  cmd->add_flag("--keep-last", a->o.keep_last,
                "write the last step's weights even when an earlier held-out evaluation was "
                "better (no selection, no early stop)");
  add_score(cmd);
  cmd->callback([cmd, a] {
    if (cmd->got_subcommand("score")) return;
    if (a->data.empty()) throw UsageError("--data is required (rankings JSONL)");
    print_resolved_config(*cmd);
    RewardTrainOptions o = a->o;
    finish_stage_options(o.stage, a->paths);
    if (!a->paths.output.empty())
      o.stage.output =
          check_run_output(a->paths.output, {{"--init", a->paths.init}, {"--data", a->data}});
    o.data = a->data;
    o.stage.resolved_config_yaml = resolved_config_yaml(*cmd);
    RewardTrainResult r = run_reward(o);
    if (report_interrupted(r.train)) return;
    std::fprintf(
        stderr,
        "done: %lld steps, held-out reward_accuracy %.4f (start %.4f); reward "
        "model in %s\n",
        static_cast<long long>(r.train.steps_done), r.summary["reward_accuracy"].get<double>(),
        r.summary.contains("start") ? r.summary["start"]["reward_accuracy"].get<double>() : 0.0,
        r.final_dir.c_str());
  });
}

const bool registered = register_command(35, setup);

}  // namespace
}  // namespace lmforge::cli
