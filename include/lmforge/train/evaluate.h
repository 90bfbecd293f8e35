// Scoring a token stream with a model: mean next-token loss (nats/token), perplexity and bits per
// byte. The stream is cut into consecutive windows of up to T+1 tokens with stride T, so every
// token after the first is a target exactly once and each sees up to T-1 tokens of context; the
// last window may be shorter (its padding is masked), and a stream shorter than T+1 is one
// sequence. Used by the trainer's validation and by `lmforge eval`.
// Not here: sliding-window (strided overlap) perplexity, task benchmarks.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "lmforge/data/tokenizer.h"
#include "lmforge/model/transformer.h"
#include "lmforge/train/data_loader.h"

namespace lmforge {

struct EvalResult {
  double loss_sum = 0;           // nats, summed over targets
  int64_t tokens = 0;            // targets scored
  uint64_t bytes = 0;            // UTF-8 bytes of the scored target tokens (0 without a tokenizer)
  double loss() const;           // loss_sum / tokens
  double perplexity() const;     // exp(loss)
  double bits_per_byte() const;  // loss_sum / (ln 2 · bytes); NaN when bytes == 0
};

// Scores tokens [0, num_tokens) in batches of B windows. max_targets > 0 stops after that many
// targets (rounded up to whole windows). tokenizer may be null (then bytes stay 0).
EvalResult evaluate_tokens(Transformer& model, const TokenReader& reader, int64_t num_tokens, int B,
                           int T, int64_t max_targets, const Tokenizer* tokenizer);

struct EvalOptions {
  std::filesystem::path model_dir;
  std::filesystem::path data;  // a prepared data directory, or a UTF-8 text file
  std::string split = "val";   // for a data directory: "train" | "val"
  int seq_len = 0;             // 0: the model's context
  int batch_size = 8;
  int64_t max_tokens = 0;  // 0: all
  int threads = 0;         // 0: OpenMP's default
};

// `lmforge eval`: loads the model (and its tokenizer, else the data directory's), checks that a
// data directory was prepared with the same tokenizer, tokenizes a text file (prefixed with
// <|endoftext|> as documents are in shards, so its first token is scored too) and scores it.
EvalResult run_eval(const EvalOptions& opts);

}  // namespace lmforge
