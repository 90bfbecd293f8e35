// `lmforge prepare`: tokenize text corpora into token shards with a held-out validation split.
// Output directory (written atomically: it appears complete or not at all):
//   manifest.json                 format, tokenizer hash, vocab, eot id, token width, per-split
//                                 shards / documents / tokens / text bytes, source files
//   train-00000.bin ...           token shards (shard.h), at most shard_tokens ids each
//   val-00000.bin ...
//   tokenizer.json, tokenizer_config.json   the tokenizer that made the ids (Tokenizer::save)
//   config.yaml                   the resolved command line, when given
// Every document is preceded by the <|endoftext|> id. The validation split is chosen by
// document: document i goes to val when splitmix64(i, seed) / 2^64 < val_fraction, which depends
// only on i and the seed (never on threads or timing). When that leaves a split empty and there
// are at least two documents (and val_fraction > 0), the last document moves to the empty split.
// Not here: corpus reading (text_corpus.h), the shard format (shard.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lmforge/data/text_corpus.h"
#include "lmforge/data/token_dataset.h"

namespace lmforge {

struct PrepareOptions {
  std::filesystem::path tokenizer_dir;
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path output;
  double val_fraction = 0.005;
  uint64_t shard_tokens = 100'000'000;
  int threads = 0;  // 0 = every core OpenMP offers
  uint64_t seed = 0;
  DocSplit doc_split = DocSplit::kBlankLine;
  std::string config_yaml;  // saved as config.yaml when non-empty
  bool show_progress = true;
};

// True when document `index` belongs to the validation split (before the non-empty fix-up).
bool is_val_document(uint64_t index, uint64_t seed, double val_fraction);

// Validates the options (UsageError / InputError naming the bad path), tokenizes, writes the
// output directory and returns its manifest. On any error nothing is left at `output` (an
// existing prepared directory there is kept).
DataManifest prepare_dataset(const PrepareOptions& options);

}  // namespace lmforge
