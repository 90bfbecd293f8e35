// The options every stage that starts from a model shares (finetune, instruct, reward, dpo, ppo),
// bound to a StageOptions so they read alike everywhere. Defaults shown in --help are the
// StageOptions values at the time of the call: a stage sets its own (e.g. lr) first.
// Not here: stage-specific options (data files, metrics), the work (train/stage.h).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "lmforge/core/output_guard.h"
#include "lmforge/train/stage.h"

namespace lmforge::cli {

// Paths are bound through strings (CLI11 and std::filesystem::path do not mix in --config YAML);
// call finish_stage_options() in the callback to copy them into the StageOptions.
struct StagePaths {
  std::string init, output;
};

inline void add_stage_options(CLI::App* cmd, StageOptions& o, StagePaths& p) {
  cmd->add_option("--init", p.init,
                  "model directory to start from (config.json, weights, tokenizer)")
      ->required();
  cmd->add_option("--output", p.output,
                  "run directory: config.yaml, metrics.jsonl, checkpoints/step-N/, final/, "
                  "summary.json")
      ->required();
  cmd->add_option("--lr", o.lr, "peak learning rate (reached after warmup)");
  cmd->add_option("--min-lr", o.min_lr, "final learning rate (-1: lr/10)");
  cmd->add_option("--warmup-steps", o.warmup_steps, "linear warmup steps (-1: 5% of the steps)");
  cmd->add_option("--lr-decay", o.lr_decay, "decay after warmup")
      ->check(CLI::IsMember({"cosine", "linear", "constant"}));
  cmd->add_option("--weight-decay", o.weight_decay,
                  "AdamW decoupled weight decay (not applied to norms and biases)");
  cmd->add_option("--grad-clip", o.grad_clip, "clip the global gradient norm to this (0: off)");
  cmd->add_option("--beta1", o.beta1, "AdamW beta1");
  cmd->add_option("--beta2", o.beta2, "AdamW beta2");
  cmd->add_option("--batch-size", o.batch_size, "rows per micro-batch B");
  cmd->add_option("--grad-accum", o.grad_accum, "micro-batches accumulated per optimizer step");
  cmd->add_option("--max-steps", o.max_steps, "optimizer steps (0: --epochs over the data)");
  cmd->add_option("--epochs", o.epochs, "passes over the training examples when --max-steps is 0");
  cmd->add_option("--eval-every", o.eval_every, "evaluate every N steps (0: only at the end)");
  cmd->add_option("--save-every", o.save_every,
                  "checkpoint every N steps (0: only at the end and on Ctrl-C)");
  cmd->add_option("--keep-checkpoints", o.keep_checkpoints,
                  "newest checkpoints to keep (0: keep all)");
  cmd->add_option("--seed", o.seed, "seed for data order, adapters and validation split");
  cmd->add_option("--threads", o.threads,
                  "CPU threads per rank (0: OpenMP's default; under mpirun the cores / ranks on "
                  "the machine)");
  cmd->add_flag("--shard-optimizer", o.shard_optimizer,
                "under mpirun: ZeRO-1, each rank keeps 1/N of the AdamW state (reduce-scatter, "
                "update, all-gather)");
  cmd->add_flag("--resume", o.resume,
                "continue from the newest complete checkpoint in --output (same settings)");
  cmd->add_option("--lora-rank", o.lora_rank,
                  "train LoRA adapters of this rank with the base frozen (0: train all weights)");
  cmd->add_option("--lora-alpha", o.lora_alpha, "LoRA scaling numerator (scaling = alpha/rank)");
  cmd->add_option(
      "--lora-targets", o.lora_targets,
      "comma-separated adapted layers: attn_q, attn_k, attn_v, attn_o, attn_qkv "
      "(gpt2), ffn_gate (llama), ffn_up, ffn_down (empty: attn_q,attn_v for llama, attn_qkv "
      "for gpt2)");
  cmd->add_flag("--merge", o.merge,
                "with LoRA: final/ is the merged model (the adapter goes to RUN/adapter/); "
                "without: final/ holds the PEFT adapter files only");
}

inline void finish_stage_options(StageOptions& o, const StagePaths& p) {
  o.init = p.init;
  o.output = p.output;
  o.comm = &process_comm();
}

// The output check of a training stage (core/output_guard.h): --output is a new or empty
// directory or an earlier run, apart from --init and every other input. Call before anything
// is written; returns the path to write (without a trailing '/').
inline std::filesystem::path check_run_output(const std::string& output,
                                              std::vector<InputPath> inputs) {
  OutputSpec s;
  s.path = output;
  s.own = run_dir_names();
  s.proof = run_dir_proof();
  s.what = "a run directory of an earlier lmforge training command";
  return check_output(s, inputs);
}

// After a stage returns: when it stopped on Ctrl-C/SIGTERM, says where its checkpoint is and how
// to continue, and returns true (the caller then prints no results). total_steps 0: unknown.
inline bool report_interrupted(const TrainResult& r, int64_t total_steps = 0) {
  if (!r.interrupted) return false;
  std::string of = total_steps > 0 ? " of " + std::to_string(total_steps) : "";
  std::fprintf(stderr,
               "stopped at step %lld%s; checkpoint %s (continue with the same command plus "
               "--resume)\n",
               static_cast<long long>(r.steps_done), of.c_str(), r.last_checkpoint.c_str());
  return true;
}

}  // namespace lmforge::cli
