// `lmforge ppo`: option parsing only; the work is run_ppo() (train/ppo.h).
#include "lmforge/train/ppo.h"

#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/stage_options.h"

namespace lmforge::cli {
namespace {

struct Args {
  PpoStageOptions o;
  StagePaths paths;
  std::string prompts, eval_prompts, reward;
};

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(
      root, "ppo",
      "RLHF with PPO: sample answers to prompts, score them with a reward model, and move the "
      "policy toward higher reward with a per-token KL penalty to the --init model");
  auto a = std::make_shared<Args>();
  StageOptions& s = a->o.stage;
  s.lr = 1e-5;
  s.batch_size = 4;
  s.warmup_steps = 0;
  s.lr_decay = "constant";
  PpoConfig& p = a->o.ppo;
  add_stage_options(cmd, s, a->paths);
  cmd->add_option("--reward", a->reward,
                  "reward model directory written by `lmforge reward` (same tokenizer as --init)");
  cmd->add_option("--reward-word", a->o.reward_word,
                  "instead of --reward: score = times this text occurs in the answer (a stated "
                  "rule, for experiments and tests)");
  cmd->add_option("--prompts", a->prompts, "prompts JSONL: {\"prompt\": str} per line")->required();
  cmd->add_option("--eval-prompts", a->eval_prompts,
                  "held-out prompts JSONL (default: hold out --eval-prompts-count of --prompts)");
  cmd->add_option("--eval-prompts-count", a->o.eval_count,
                  "prompts held out of --prompts for the held-out reward and KL (0: 10%, 1 to 64)");
  cmd->add_option("--prompt-format", a->o.prompt_format,
                  "how a prompt is rendered: auto (as the reward model: ChatML user turn when the "
                  "tokenizer has the markers, else raw), chat, raw")
      ->check(CLI::IsMember({"auto", "chat", "raw"}));
  cmd->add_option("--rollout-batch", p.rollout_batch,
                  "prompts answered per rollout batch (a multiple of --batch-size x --grad-accum)");
  cmd->add_option("--ppo-epochs", p.ppo_epochs, "optimization passes over each rollout batch");
  cmd->add_option("--max-new-tokens", p.max_new_tokens, "answer length cap in tokens");
  cmd->add_option("--temperature", p.temperature, "rollout sampling temperature (1: the policy)");
  cmd->add_option("--gamma", p.gamma, "GAE discount");
  cmd->add_option("--lam", p.lam, "GAE lambda");
  cmd->add_option("--clip", p.clip, "policy ratio clip epsilon");
  cmd->add_option("--value-ridge", p.value_ridge,
                  "critic: ridge strength of the value head's closed-form refit after each "
                  "rollout (toward its previous weights; relative to the hidden states' scale)");
  cmd->add_option("--missing-eos-penalty", p.missing_eos_penalty,
                  "subtracted from the centred (whitened) score of an answer cut at "
                  "--max-new-tokens without an end token");
  cmd->add_option("--min-reward-accuracy", a->o.min_reward_accuracy,
                  "refuse a reward model whose held-out pairwise accuracy (reward_config.json) is "
                  "below this (0: accept any; below 0.75 warns)");
  cmd->add_option("--entropy-coef", p.entropy_coef, "weight of the entropy bonus");
  cmd->add_option("--kl-coef", p.kl_coef,
                  "per-token KL penalty beta against the --init model (initial value with "
                  "--adaptive-kl)");
  cmd->add_flag("--adaptive-kl", p.adaptive_kl,
                "adapt beta toward --kl-target (Ziegler et al. 2019 proportional controller)");
  cmd->add_option("--kl-target", p.kl_target, "KL per answer (nats) that --adaptive-kl aims at");
  cmd->add_option("--kl-horizon", p.kl_horizon, "samples over which --adaptive-kl adjusts beta");
  cmd->add_option("--target-kl", p.target_kl,
                  "a step whose approximate KL to the rollout policy exceeds 1.5x this ends the "
                  "PPO epochs on its batch early (0: off)");
  cmd->add_option("--max-kl", p.max_kl,
                  "KL to the reference per answer above which --kl-action applies (0: off)");
  cmd->add_option("--kl-action", p.kl_action,
                  "when a rollout's KL exceeds --max-kl: warn, or stop (exit 1, checkpoints kept)")
      ->check(CLI::IsMember({"warn", "stop"}));
  cmd->add_option(
      "--whiten-rewards", p.whiten_rewards,
      "divide the scores by their rollout-batch standard deviation (they are always centred on "
      "the batch mean)");
  cmd->callback([cmd, a] {
    print_resolved_config(*cmd);
    PpoStageOptions o = a->o;
    finish_stage_options(o.stage, a->paths);
    o.stage.output = check_run_output(a->paths.output, {{"--init", a->paths.init},
                                                        {"--reward", a->reward},
                                                        {"--prompts", a->prompts},
                                                        {"--eval-prompts", a->eval_prompts}});
    o.prompts = a->prompts;
    o.eval_prompts = a->eval_prompts;
    o.reward_model = a->reward;
    o.stage.resolved_config_yaml = resolved_config_yaml(*cmd);
    PpoStageResult r = run_ppo(o);
    if (report_interrupted(r.train)) return;
    std::fprintf(stderr,
                 "done: %lld steps; held-out mean reward %.4f (start %.4f), KL %.4f; output in "
                 "%s\n",
                 static_cast<long long>(r.train.steps_done), r.final_reward, r.start_reward,
                 r.final_kl, r.final_dir.c_str());
  });
}

const bool registered = register_command(37, setup);

}  // namespace
}  // namespace lmforge::cli
