// Shared between the demo data builder's files (src/demo/demo_data.cpp builds the sources,
// src/demo/demo_instruct.cpp turns them into instructions and rankings). Not a public API.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lmforge/core/rng.h"
#include "lmforge/demo/demo_data.h"

namespace lmforge::demo_detail {

struct QA {
  std::string item;    // what fills "{x}" in a phrasing
  std::string answer;  // the reference answer
};

// Item pools the instruction kinds draw from, each in a deterministic order: translations the
// fine-tuning stage trains on, WordNet synonyms, frequent words of the general text, and short
// one-line sentences (item only).
struct InstructPools {
  std::vector<QA> translate, synonym, sentences;
  std::vector<std::string> words;
};

// Writes instruct/train.jsonl, instruct/heldout.jsonl, rlhf/prompts.jsonl, rlhf/rankings.jsonl
// and rlhf/README.txt under dir; fills the counts in summary.
void write_instruct_and_rlhf(const InstructPools& pools, const DemoDataOptions& opt,
                             const std::filesystem::path& dir, DemoDataSummary& summary);

// Fisher-Yates with our Rng (std::shuffle's output differs between standard libraries).
template <class T>
void shuffle_with(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

}  // namespace lmforge::demo_detail
