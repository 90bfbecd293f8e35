// The demo's pipeline, embedded in the binary (examples/demo_pipeline.yaml is the same text for
// --minutes 20 on the reference machine). Step counts are sized for about `minutes` on the
// reference machine, two AVX2 cores running the tiny GPT-2 preset at ~10k tokens/s (pretraining 6
// min, continued pretraining 2, fine-tuning 2, instruction tuning 3, ranking 1, reward model 1,
// DPO 1, PPO 2, the rest data and probes), and scale linearly with `minutes`. A faster machine
// (speed > 1: its sgemm rate over the reference's) gets a wider model and the steps the rest of
// its speed buys (demo_sizing).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "lmforge/demo/demo_data.h"
#include "lmforge/demo/pipeline.h"

namespace lmforge {

namespace {

const char* const kTemplate =
    R"(# lmforge demo pipeline: the whole journey on the built-in data (`lmforge demo` runs it;
# `lmforge run THIS.yaml --output DIR --var CORPUS=./demo-corpus` does the same).
# ${DIR} is the output directory, ${DATA} the built data (default ${DIR}/data), ${CORPUS} the
# fetched corpus (scripts/fetch-corpus.sh). Sized for about @MINUTES@ minutes on two cores.
title: "lmforge demo: a language model from scratch in about @MINUTES@ minutes"
simulated_ranker: "@RANKER@"
probes:
  prompt: "The cat sat on the"
  top: 5
  general_val: ${DIR}/shards-general
  domain_val: ${DATA}/domain/val.txt
  eval_tokens: 16384
  samples: ["The cat sat on the", "A compiler is", "English: the house\nGerman:"]
  chat_samples: ["Translate \"the house\" into German.", "Give a synonym for \"begin\".", "What is the first letter of \"water\"?", "Repeat after me: The cat sat on the mat."]
  heldout: ${DATA}/instruct/heldout.jsonl
  heldout_max: 120
  tasks:
    - {path: "${DIR}/tasks/en_de_mc.jsonl", name: en-de-mc, limit: 200}
stages:
  - name: data
    title: Built-in data
    what: "Turns the fetched Debian dictionaries and texts into the datasets of every stage: general text, computing text, English-German pairs, instructions and simulated rankings."
    command: demo data
    options: {corpus: "${CORPUS}", output: "${DATA}"}
  - name: tasks
    title: Benchmark task
    what: "Builds a multiple-choice benchmark from held-out translation pairs (pick the German word among four), scored on every model the way lm-evaluation-harness scores multiple choice."
    command: demo tasks
    options: {data: "${DATA}", output: "${DIR}/tasks"}
    done_when: "${DIR}/tasks/manifest.json"
  - name: tokenizer
    title: Tokenizer
    what: "Learns a byte-level BPE vocabulary of 4096 tokens from the general and computing text, so text becomes token ids."
    command: tokenizer train
    options: {input: ["${DATA}/general", "${DATA}/domain/train.txt"], vocab-size: 4096, output: "${DIR}/tokenizer"}
  - name: prepare
    title: Tokenized general text
    what: "Encodes the Bible and the fortunes into token shards with a held-out validation split."
    command: prepare
    options: {tokenizer: "${DIR}/tokenizer", input: "${DATA}/general", output: "${DIR}/shards-general", val-fraction: 0.01}
  - name: prepare-domain
    title: Tokenized computing text
    what: "Encodes the Jargon File and FOLDOC entries for continued pretraining."
    command: prepare
    options: {tokenizer: "${DIR}/tokenizer", input: "${DATA}/domain/train.txt", output: "${DIR}/shards-domain", val-fraction: 0.01}
  - name: pretrain
    title: Pretraining
    what: "Trains a GPT-2 of @PARAMS@ parameters (@MODEL@) from random weights to predict the next token of general English text: @PRETRAIN@ steps of 16 x 128 tokens, @TOKENS@ tokens seen."
    command: pretrain
    options: {data: "${DIR}/shards-general", output: "${DIR}/pretrain", preset: @PRESET@,@WIDTH@ seq-len: 128, batch-size: 16, max-steps: @PRETRAIN@, eval-every: @PRETRAIN_EVAL@, eval-tokens: 16384, save-every: @PRETRAIN_EVAL@}
  - name: cpt
    title: Continued pretraining
    what: "Keeps training on computing text, mixing 25% general text back in so the model does not forget it: domain loss falls, general loss should hold."
    command: pretrain
    options: {init: "${DIR}/pretrain/final", data: "${DIR}/shards-domain", replay: "${DIR}/shards-general", replay-ratio: 0.25, output: "${DIR}/cpt", seq-len: 128, batch-size: 16, max-steps: @CPT@, warmup-steps: 20, eval-every: @CPT_EVAL@, eval-tokens: 16384, save-every: @CPT_EVAL@}
  - name: finetune
    title: Task fine-tuning
    what: "Teaches one task, English to German word and phrase translation, with loss on the German completion only; a quarter of the rows are general text so the model does not forget it."
    command: finetune
    options: {init: "${DIR}/cpt/final", data: "${DATA}/task/train.jsonl", val-data: "${DATA}/task/val.jsonl", eval-metric: chrf, eval-samples: 100, output: "${DIR}/finetune", max-steps: @FINETUNE@, eval-every: @FINETUNE_EVAL@, replay: "${DIR}/shards-general", replay-ratio: 0.25}
  - name: instruct
    title: Instruction tuning
    what: "Teaches the model to answer chat requests (translate a word it learned, give a synonym or a first letter, pick the first or last word of a sentence, repeat it) phrased in many ways; accuracy is measured per kind on phrasings it never saw. A quarter of the rows are general text."
    command: instruct
    options: {init: "${DIR}/finetune/final", data: "${DATA}/instruct/train.jsonl", output: "${DIR}/instruct", max-steps: @INSTRUCT@, lr: @INSTRUCT_LR@, batch-size: 16, val-fraction: 0.03, replay: "${DIR}/shards-general", replay-ratio: 0.25}
    chat: true
  - name: rank
    title: Ranking the model's own answers
    what: "The instruction-tuned model samples 4 answers to each of @RANK@ prompts; the SIMULATED RANKER orders them best to worst (right first, partly right next, then the shorter). `lmforge label` lets people do this instead."
    command: demo rank
    options: {model: "${DIR}/instruct/final", prompts: "${DATA}/rlhf/rank_prompts.jsonl", samples: 4, max-prompts: @RANK@, output: "${DIR}/rankings/rankings.jsonl"}
    probes: none
  - name: reward
    title: Reward model
    what: "Learns to score the model's own answers the way the simulated ranker ranked them (right beats partly right beats wrong; then concise)."
    command: reward
    options: {init: "${DIR}/instruct/final", data: "${DIR}/rankings/rankings.jsonl", output: "${DIR}/reward", max-steps: @REWARD@}
    probes: summary
  - name: dpo
    title: DPO
    what: "Aligns the instruction-tuned model directly on the rankings of its own answers, without a reward model."
    command: dpo
    options: {init: "${DIR}/instruct/final", data: "${DIR}/rankings/rankings.jsonl", output: "${DIR}/dpo", max-steps: @DPO@}
    chat: true
  - name: ppo
    title: PPO (RLHF)
    what: "Samples answers, scores them with the reward model and moves the policy toward higher reward while a KL penalty keeps it near the instruction-tuned model."
    command: ppo
    options: {init: "${DIR}/instruct/final", reward: "${DIR}/reward/final", prompts: "${DATA}/rlhf/prompts.jsonl", output: "${DIR}/ppo", max-steps: @PPO@}
    chat: true
)";

void replace(std::string& s, const std::string& key, const std::string& value) {
  for (size_t p = s.find(key); p != std::string::npos; p = s.find(key, p + value.size()))
    s.replace(p, key.size(), value);
}

}  // namespace

const std::vector<DemoSize>& demo_sizes() {
  static const std::vector<DemoSize> sizes = {{"tiny", 0, 1.0, "tiny: 4 layers, width 128"},
                                              {"tiny", 192, 1.95, "4 layers, width 192"},
                                              {"tiny", 256, 3.2, "4 layers, width 256"},
                                              {"small", 0, 9.3, "small: 6 layers, width 384"}};
  return sizes;
}

DemoSizing demo_sizing(double minutes, double speed, const std::vector<double>& measured_cost) {
  DemoSizing z;
  z.speed = std::clamp(speed > 0 ? speed : 1.0, 0.05, 1000.0);
  // Half of a faster machine's speed (in the exponent) goes into a wider model, the rest into
  // more steps: cost per token grows ~ with the width's square, so the width grows ~ speed^0.25.
  const auto& sizes = demo_sizes();
  size_t pick = 0;
  double cost = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const double c =
        i < measured_cost.size() && measured_cost[i] > 0 ? measured_cost[i] : sizes[i].cost;
    if (c <= std::sqrt(z.speed)) pick = i, cost = std::max(1.0, c);
  }
  z.preset = sizes[pick].preset;
  z.width = sizes[pick].width;
  z.model = sizes[pick].name;
  z.cost = cost;
  const int C = z.width ? z.width : (z.preset == "small" ? 384 : 128);
  const int L = z.preset == "small" ? 6 : 4, ctx = z.preset == "small" ? 256 : 128;
  z.params = int64_t(L) * 12 * C * C + int64_t(kDemoVocab) * C + int64_t(ctx) * C;
  z.step_scale = std::max(0.05, minutes / 20.0) * z.speed / cost;
  return z;
}

std::string builtin_demo_pipeline_yaml(double minutes, double speed) {
  return builtin_demo_pipeline_yaml(demo_sizing(minutes, speed), minutes);
}

std::string builtin_demo_pipeline_yaml(const DemoSizing& z, double minutes) {
  const double f = z.step_scale;
  auto steps = [&](double at20, int lo) {
    return std::to_string(std::max(lo, int(std::lround(at20 * f))));
  };
  std::string y = kTemplate;
  char mbuf[32];
  std::snprintf(mbuf, sizeof mbuf, "%g", minutes);
  replace(y, "@MINUTES@", mbuf);
  std::string rule = kSimulatedRankerRule;
  replace(rule, "\"", "\\\"");
  replace(y, "@RANKER@", rule);
  const int pre = std::max(20, int(std::lround(2400 * f)));
  const int cpt = std::max(10, int(std::lround(600 * f)));
  replace(y, "@PRESET@", z.preset);
  replace(y, "@WIDTH@", z.width ? " n-embd: " + std::to_string(z.width) + "," : "");
  replace(y, "@MODEL@", z.model);
  char pbuf[32];
  std::snprintf(pbuf, sizeof pbuf, "%.1fM", double(z.params) / 1e6);
  replace(y, "@PARAMS@", pbuf);
  std::snprintf(pbuf, sizeof pbuf, "%.1fM", double(pre) * kDemoBatch * kDemoSeqLen / 1e6);
  replace(y, "@TOKENS@", pbuf);
  replace(y, "@PRETRAIN@", std::to_string(pre));
  replace(y, "@PRETRAIN_EVAL@", std::to_string(std::max(10, pre / 6)));
  replace(y, "@CPT@", std::to_string(cpt));
  replace(y, "@CPT_EVAL@", std::to_string(std::max(5, cpt / 5)));
  replace(y, "@FINETUNE@", steps(500, 10));
  replace(y, "@FINETUNE_EVAL@", steps(250, 5));
  // A tiny model learns the short answers faster at 1e-3 with 16 rows a step (measured: 5% vs
  // 0.8% held-out after 400-500 steps); half the steps of 8 rows at 3e-4 take the same time.
  replace(y, "@INSTRUCT@", steps(1000, 10));
  // Instruction tuning is step-bound at these sizes (held-out accuracy still rising linearly at
  // 600 steps), and the 128-wide model learns it faster at 3e-3 than at 1e-3 (measured from the
  // same fine-tuned model, 300 held-out prompts: 10.7% vs 8.0% at step 300, 14.7% vs 10.3% at
  // 400; docs/PERFORMANCE.md, run 4). Wider models get a proportionally smaller rate (the usual
  // ~1/width scaling), never below the 1e-3 measured before.
  {
    const int C = z.width ? z.width : (z.preset == "small" ? 384 : 128);
    char lbuf[32];
    const double lr = std::clamp(3e-3 * 128.0 / C, 1e-3, 3e-3);
    std::snprintf(lbuf, sizeof lbuf, "%.2ge-3", std::round(lr * 1e4) / 10);  // "3e-3", "1.5e-3"
    replace(y, "@INSTRUCT_LR@", lbuf);
  }
  replace(y, "@RANK@", std::to_string(std::clamp(int(std::lround(400 * f)), 40, 600)));
  replace(y, "@REWARD@", steps(300, 5));
  replace(y, "@DPO@", steps(300, 5));
  replace(y, "@PPO@", steps(200, 2));
  return y;
}

}  // namespace lmforge
