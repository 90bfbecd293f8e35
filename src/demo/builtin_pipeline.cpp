// The demo's pipeline, embedded in the binary (examples/demo_pipeline.yaml is the same text for
// --minutes 20). Step counts are sized for about `minutes` on two laptop cores with the tiny
// GPT-2 preset (~10k tokens/s: pretraining 6 min, continued pretraining 2, fine-tuning 2,
// instruction tuning 3, reward model 1.5, DPO 1.5, PPO 2, the rest data and probes) and scale
// linearly with `minutes`.
#include <algorithm>
#include <cmath>
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
  chat_samples: ["What is a compiler?", "Translate \"the dog\" into German.", "Give a synonym for \"happy\"."]
  heldout: ${DATA}/instruct/heldout.jsonl
  heldout_max: 60
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
    what: "Trains a tiny GPT-2 from random weights to predict the next token of general English text."
    command: pretrain
    options: {data: "${DIR}/shards-general", output: "${DIR}/pretrain", preset: tiny, seq-len: 128, batch-size: 16, max-steps: @PRETRAIN@, eval-every: @PRETRAIN_EVAL@, eval-tokens: 16384, save-every: @PRETRAIN_EVAL@}
  - name: cpt
    title: Continued pretraining
    what: "Keeps training on computing text, mixing 25% general text back in so the model does not forget it: domain loss falls, general loss should hold."
    command: pretrain
    options: {init: "${DIR}/pretrain/final", data: "${DIR}/shards-domain", replay: "${DIR}/shards-general", replay-ratio: 0.25, output: "${DIR}/cpt", seq-len: 128, batch-size: 16, max-steps: @CPT@, warmup-steps: 20, eval-every: @CPT_EVAL@, eval-tokens: 16384, save-every: @CPT_EVAL@}
  - name: finetune
    title: Task fine-tuning
    what: "Teaches one task, English to German word and phrase translation, with loss on the German completion only."
    command: finetune
    options: {init: "${DIR}/cpt/final", data: "${DATA}/task/train.jsonl", val-data: "${DATA}/task/val.jsonl", eval-metric: chrf, eval-samples: 100, output: "${DIR}/finetune", max-steps: @FINETUNE@, eval-every: @FINETUNE_EVAL@}
  - name: instruct
    title: Instruction tuning
    what: "Teaches the model to answer chat requests (define, translate, give a synonym, pick a word) phrased in many ways; accuracy is measured on phrasings it never saw."
    command: instruct
    options: {init: "${DIR}/finetune/final", data: "${DATA}/instruct/train.jsonl", output: "${DIR}/instruct", max-steps: @INSTRUCT@}
    chat: true
  - name: reward
    title: Reward model
    what: "Learns to score answers the way the simulated ranker ranked them (correct and concise beats wrong or rambling)."
    command: reward
    options: {init: "${DIR}/instruct/final", data: "${DATA}/rlhf/rankings.jsonl", output: "${DIR}/reward", max-steps: @REWARD@}
    probes: summary
  - name: dpo
    title: DPO
    what: "Aligns the instruction-tuned model directly on the rankings, without a reward model."
    command: dpo
    options: {init: "${DIR}/instruct/final", data: "${DATA}/rlhf/rankings.jsonl", output: "${DIR}/dpo", max-steps: @DPO@, lr: 5e-5}
    chat: true
  - name: ppo
    title: PPO (RLHF)
    what: "Samples answers, scores them with the reward model and moves the policy toward higher reward while a KL penalty keeps it near the instruction-tuned model."
    command: ppo
    options: {init: "${DIR}/instruct/final", reward: "${DIR}/reward/final", prompts: "${DATA}/rlhf/prompts.jsonl", output: "${DIR}/ppo", max-steps: @PPO@, lr: 5e-5, kl-coef: 0.2}
    chat: true
)";

void replace(std::string& s, const std::string& key, const std::string& value) {
  for (size_t p = s.find(key); p != std::string::npos; p = s.find(key, p + value.size()))
    s.replace(p, key.size(), value);
}

}  // namespace

std::string builtin_demo_pipeline_yaml(double minutes) {
  const double f = std::max(0.05, minutes / 20.0);
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
  replace(y, "@PRETRAIN@", std::to_string(pre));
  replace(y, "@PRETRAIN_EVAL@", std::to_string(std::max(10, pre / 6)));
  replace(y, "@CPT@", std::to_string(cpt));
  replace(y, "@CPT_EVAL@", std::to_string(std::max(5, cpt / 5)));
  replace(y, "@FINETUNE@", steps(500, 10));
  replace(y, "@FINETUNE_EVAL@", steps(250, 5));
  replace(y, "@INSTRUCT@", steps(2000, 10));
  replace(y, "@REWARD@", steps(300, 5));
  replace(y, "@DPO@", steps(300, 5));
  replace(y, "@PPO@", steps(200, 2));
  return y;
}

}  // namespace lmforge
