// `lmforge pretrain`: option parsing only; the work is run_pretrain() (train/pretrain.h).
#include "lmforge/train/pretrain.h"

#include <array>
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/stage_options.h"
#include "lmforge/model/arch.h"
#include "lmforge/model/config.h"

namespace lmforge::cli {
namespace {

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(root, "pretrain",
                              "Train a language model from scratch (or continue pretraining with "
                              "--init) on data prepared by `lmforge prepare`");
  auto o = std::make_shared<PretrainOptions>();
  auto s = std::make_shared<std::array<std::string, 5>>();
  cmd->add_option("--data", (*s)[0], "prepared data directory (manifest.json, shards, tokenizer)")
      ->required();
  cmd->add_option("--output", (*s)[1],
                  "run directory: config.yaml, metrics.jsonl, checkpoints/step-N/, final/")
      ->required();
  cmd->add_option("--init", (*s)[2],
                  "start from this model directory (continued pretraining); its tokenizer must "
                  "match the data's");
  cmd->add_option("--replay", (*s)[3],
                  "continued pretraining: prepared general data (same tokenizer) mixed back into "
                  "training to limit forgetting; its val split gives general_val_loss");
  cmd->add_option("--replay-ratio", o->replay_ratio,
                  "share of training rows taken from --replay, spread evenly (deterministic)");
  cmd->add_option("--general-val", (*s)[4],
                  "prepared general data whose val split is scored at every evaluation as "
                  "general_val_loss (default: --replay's)");
  std::vector<std::string> families;
  for (const ArchSpec* a : arch_specs()) families.push_back(a->name);
  cmd->add_option("--arch", o->arch, "model family of a fresh model (" + arch_names() + ")")
      ->check(CLI::IsMember(families));
  cmd->add_option("--preset", o->preset,
                  std::string("model size preset (") + ModelConfig::preset_names() +
                      "); empty: the family's first (tiny, llama-tiny, qwen3-tiny)");
  cmd->add_option("--n-layer", o->n_layer, "transformer blocks L (0: the preset's)");
  cmd->add_option("--n-head", o->n_head, "attention heads NH (0: the preset's)");
  cmd->add_option("--n-kv-head", o->n_kv_head,
                  "key/value heads NKV for grouped-query attention, RoPE families only (0: the "
                  "preset's)");
  cmd->add_option("--n-embd", o->n_embd, "model width C (0: the preset's)");
  cmd->add_option("--ffn-hidden", o->ffn_hidden,
                  "feed-forward width FF (0: 4C for gpt2, about 8C/3 for SwiGLU families)");
  cmd->add_option("--n-ctx", o->n_ctx, "maximum context of a fresh model (0: the preset's)");
  cmd->add_option("--seq-len", o->seq_len, "training sequence length T (0: the model's context)");
  cmd->add_option("--batch-size", o->batch_size, "sequences per micro-batch B");
  cmd->add_option("--grad-accum", o->grad_accum,
                  "micro-batches accumulated per optimizer step (tokens/step = B·T·this)");
  cmd->add_option("--lr", o->lr, "peak learning rate (reached after warmup)");
  cmd->add_option("--min-lr", o->min_lr, "final learning rate (-1: lr/10)");
  cmd->add_option("--warmup-steps", o->warmup_steps, "linear warmup steps (-1: 5% of the steps)");
  cmd->add_option("--lr-decay", o->lr_decay, "decay after warmup")
      ->check(CLI::IsMember({"cosine", "linear", "constant"}));
  cmd->add_option("--weight-decay", o->weight_decay,
                  "AdamW decoupled weight decay (not applied to norms and biases)");
  cmd->add_option("--grad-clip", o->grad_clip, "clip the global gradient norm to this (0: off)");
  cmd->add_option("--beta1", o->beta1, "AdamW beta1");
  cmd->add_option("--beta2", o->beta2, "AdamW beta2");
  cmd->add_option("--max-steps", o->max_steps,
                  "optimizer steps to train (0: from --max-tokens, else one epoch)");
  cmd->add_option("--max-tokens", o->max_tokens,
                  "training tokens, rounded up to whole steps (0: unused)");
  cmd->add_option("--eval-every", o->eval_every,
                  "measure val_loss every N steps (0: only at the end)");
  cmd->add_option("--eval-tokens", o->eval_tokens,
                  "validation tokens scored per evaluation (0: the whole val split)");
  cmd->add_option("--save-every", o->save_every,
                  "checkpoint every N steps (0: only at the end and on Ctrl-C)");
  cmd->add_option("--keep-checkpoints", o->keep_checkpoints,
                  "newest checkpoints to keep (0: keep all)");
  cmd->add_option("--sample-every", o->sample_every,
                  "print a greedy sample from a fixed prompt every N steps (0: never)");
  cmd->add_option("--seed", o->seed, "seed for initialization and data order");
  cmd->add_option("--threads", o->threads,
                  "CPU threads per rank (0: OpenMP's default; under mpirun the cores / ranks on "
                  "the machine)");
  cmd->add_flag("--shard-optimizer", o->shard_optimizer,
                "under mpirun: ZeRO-1, each rank keeps 1/N of the AdamW state (reduce-scatter, "
                "update, all-gather)");
  cmd->add_flag("--resume", o->resume,
                "continue from the newest complete checkpoint in --output (bitwise identical "
                "to an uninterrupted run with the same settings and threads)");
  cmd->add_option("--peak-gflops", o->peak_gflops,
                  "GFLOP/s ceiling for MFU (0: this machine's arithmetic peak for the precision "
                  "in use, measured once and cached in ~/.cache/lmforge/peak.json)");
  cmd->callback([cmd, o, s] {
    print_resolved_config(*cmd);
    PretrainOptions opts = *o;
    opts.data_dir = (*s)[0];
    opts.output_dir = (*s)[1];
    opts.init_model = (*s)[2];
    opts.replay_dir = (*s)[3];
    opts.general_val_dir = (*s)[4];
    opts.output_dir = check_run_output((*s)[1], {{"--data", (*s)[0]},
                                                 {"--init", (*s)[2]},
                                                 {"--replay", (*s)[3]},
                                                 {"--general-val", (*s)[4]}});
    opts.resolved_config_yaml = resolved_config_yaml(*cmd);
    opts.comm = &process_comm();
    PretrainResult r = run_pretrain(opts);
    if (report_interrupted(r.train, r.total_steps)) return;
    std::fprintf(stderr, "done: %lld steps, loss %.4f", static_cast<long long>(r.train.steps_done),
                 r.train.last_loss);
    if (r.train.last_val_loss) std::fprintf(stderr, ", val_loss %.4f", *r.train.last_val_loss);
    std::fprintf(stderr, "; model in %s\n", r.final_dir.c_str());
  });
}

const bool registered = register_command(30, setup);

}  // namespace
}  // namespace lmforge::cli
