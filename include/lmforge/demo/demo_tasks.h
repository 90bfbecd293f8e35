// The demo's own benchmark: a multiple-choice task built from the held-out English-German pairs of
// DATA/task/val.jsonl (never trained on): "English: the house\nGerman:" with four German answers,
// the right one and three others drawn from other pairs, in a seeded order. Written as
//   OUT/en_de_mc.jsonl          {"context", "choices": [4], "gold"} (eval/task.h's format)
//   OUT/en_de_mc_fewshot.jsonl  the same built from DATA/task/train.jsonl: a separate split for
//                               --fewshot
//   OUT/manifest.json           counts and seed; written last (marks a complete build)
// `lmforge demo tasks` runs it; the demo pipeline scores it on every model (probes.tasks).
// Not here: scoring (eval/), the other demo data (demo_data.h).
#pragma once
#include <cstdint>
#include <filesystem>

namespace lmforge {

struct DemoTasksOptions {
  std::filesystem::path data;    // what `lmforge demo data` wrote
  std::filesystem::path output;  // OUT
  uint64_t seed = 1234;
  int max_rows = 500;     // questions at most
  int fewshot_rows = 50;  // few-shot pool rows at most
};

struct DemoTasksSummary {
  int rows = 0, fewshot_rows = 0;
};

// InputError naming the file when DATA/task/*.jsonl is missing or has too few distinct answers.
DemoTasksSummary build_demo_tasks(const DemoTasksOptions& opt);

}  // namespace lmforge
