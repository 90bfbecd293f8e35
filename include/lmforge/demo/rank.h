// `lmforge demo rank`: the model writes several answers to each prompt (temperature sampling
// through the inference engine, each prompt a user turn of the chat template) and the SIMULATED
// RANKER (kSimulatedRankerRule, demo_data.h) orders them best to worst against the prompt's
// reference. The output is the rankings JSONL that `lmforge label export` also writes
// ({"prompt","responses":[best..worst]} plus keys readers ignore: "credits", "ties", "ranker"),
// so reward, dpo and ppo take either. Prompts whose samples are all the same (after trimming)
// are sampled again at 1.5x the temperature, then 1.5x that, while it stays <= max_temperature
// (a model sure of its answer still shows its alternatives, which the ranking then contrasts
// with its usual answer); those still without two different answers give no ranking and are
// counted.
// Not here: the rule (ranker.cpp), human ranking (`lmforge label`).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace lmforge {

struct RankOptions {
  std::filesystem::path model, prompts, output;  // prompts: {"prompt","reference"} JSONL
  int samples = 4;                               // answers sampled per prompt
  float temperature = 1.0f;
  float max_temperature = 2.25f;  // resampling of prompts with one answer (<= temperature: none)
  int top_k = 0;
  int max_tokens = 32;
  int max_prompts = 0;  // 0: all
  int batch = 16;
  uint64_t seed = 1;
  bool chat = true;  // prompts as a user turn of the chat template (as ppo renders them)
};

struct RankSummary {
  int prompts = 0, ranked = 0, skipped_identical = 0;
  int resampled = 0;         // prompts sampled again at a higher temperature
  double best_credit = 0;    // mean credit of the best answer per ranked prompt
  double any_right = 0;      // share of ranked prompts with an exact answer among the samples
  double mean_credit = 0;    // mean credit of the first round's answers (at temperature)
  double mean_distinct = 0;  // distinct answers per ranked prompt
};

// Writes opt.output atomically. InputError naming the prompts file's line when a prompt or its
// reference is missing; UsageError on out-of-range numbers.
RankSummary rank_sampled_answers(const RankOptions& opt);

}  // namespace lmforge
