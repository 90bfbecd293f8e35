// Training a byte-level BPE tokenizer: count pre-tokenized words over the corpus (in parallel),
// then merge the most frequent adjacent pair repeatedly, updating pair counts incrementally
// (pair -> words index + a max-heap with lazy invalidation, as HF `tokenizers` does).
// Deterministic: ties go to the smaller (left id, right id), so the same input gives the same
// vocabulary on any thread count. Vocabulary layout: ids 0..255 are the bytes in GPT-2's order
// (byte_level_order()), then one id per merge in merge order, then the special tokens.
// Not here: encoding (tokenizer.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lmforge/data/tokenizer.h"

namespace lmforge {

struct TokenizerTrainOptions {
  int32_t vocab_size = 8192;  // including the 256 byte tokens and the special tokens
  SplitPattern pattern = SplitPattern::kGpt2;
  // "<|endoftext|>" is always added (first) if missing: shards separate documents with it.
  std::vector<std::string> specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  int64_t min_frequency = 2;  // a pair seen fewer times is never merged (training stops early)
  int threads = 0;            // 0: OpenMP's default
  bool progress = true;
};

// Trains on .txt files (whole file is text) and .jsonl/.json files (one {"text": ...} per line);
// a directory contributes its .txt/.jsonl/.json files in name order. Throws InputError naming
// file, line and field for malformed JSONL, UsageError for a bad vocabulary size.
Tokenizer train_tokenizer(const std::vector<std::filesystem::path>& inputs,
                          const TokenizerTrainOptions& options);

// Same, from in-memory documents (tests, small tools).
Tokenizer train_tokenizer_from_texts(const std::vector<std::string>& texts,
                                     const TokenizerTrainOptions& options);

}  // namespace lmforge
