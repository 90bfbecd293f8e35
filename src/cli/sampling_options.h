// The sampling options shared by `generate` and `chat` (temperature, top-k, top-p, min-p,
// repetition penalty, seed), bound to a SamplingParams so both commands explain them alike.
#pragma once
#include <CLI/CLI.hpp>

#include "lmforge/infer/sampler.h"

namespace lmforge::cli {

inline void add_sampling_options(CLI::App* cmd, SamplingParams& s) {
  cmd->add_option("--temperature", s.temperature, "sampling temperature; 0 is greedy");
  cmd->add_option("--top-k", s.top_k, "keep the k most likely tokens (0: off)");
  cmd->add_option("--top-p", s.top_p, "nucleus: smallest set with this much mass (1: off)");
  cmd->add_option("--min-p", s.min_p, "drop tokens below min-p times the top one (0: off)");
  cmd->add_option("--repetition-penalty", s.repetition_penalty,
                  "divide positive logits of seen tokens by this (1: off)");
  cmd->add_option("--seed", s.seed, "random seed: the same seed gives the same text");
}

}  // namespace lmforge::cli
