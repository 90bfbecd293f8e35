// Rankings as token rows for the reward model and DPO: how a prompt and a response become one
// sequence, and the validation of a rankings file against a model (duplicates, context).
// Rendering (the same for reward training, `reward score`, DPO and PPO scoring):
//   chat  when the tokenizer has <|im_start|> and <|im_end|>: the prompt is one user turn in the
//         ChatML template with the assistant header (ChatTemplate::encode(..., true)); the
//         response follows as ordinary text and ends with <|im_end|>.
//   raw   otherwise: encode(prompt) then encode(response) then <|endoftext|> when the vocabulary
//         has it. Prompt and response are encoded separately so that the boundary between them
//         is exact (DPO's loss covers the response tokens only).
// The end token gives the reward head a fixed place to read the whole answer from (InstructGPT
// reads the reward at the end-of-sequence token) and lets DPO learn where answers stop.
// Not here: the scoring head (reward_model.h), losses (loss/).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lmforge/data/datasets.h"
#include "lmforge/data/tokenizer.h"

namespace lmforge {

class ResponseRenderer {
 public:
  // Chat rendering when the tokenizer has the ChatML markers, else raw (see above).
  explicit ResponseRenderer(const Tokenizer& tok);
  ResponseRenderer() = default;  // unusable until assigned
  bool chat() const { return chat_; }
  const char* mode() const { return chat_ ? "chatml" : "raw"; }
  std::vector<int32_t> prompt_ids(const std::string& prompt) const;
  // The response tokens including the end token (when there is one).
  std::vector<int32_t> response_ids(const std::string& response) const;
  int32_t end_id() const { return end_id_; }  // -1 when the vocabulary has no end token

 private:
  const Tokenizer* tok_ = nullptr;
  bool chat_ = false;
  int32_t end_id_ = -1;
};

// One ranking as tokens: the rendered prompt and each response (best first).
struct EncodedRanking {
  int64_t line = 0;
  std::vector<int32_t> prompt;
  std::vector<std::vector<int32_t>> responses;
  size_t rows() const { return responses.size(); }
  // prompt + response k: one model input row.
  std::vector<int32_t> row(size_t k) const;
};

// Rankings padded into one (B,T) batch, B = the rankings' total responses: row = prompt +
// response (EncodedRanking::row), zeros after it. The reward model and DPO both batch this way.
struct PaddedRankings {
  std::vector<int32_t> ids;       // (B,T)
  std::vector<int> last;          // per row: index of its last real token
  std::vector<size_t> first_row;  // per ranking: its first row
  int B = 0, T = 0;
};
PaddedRankings pad_rankings(const std::vector<const EncodedRanking*>& rs);

// Encodes every ranking of `file` (already read with read_rankings_jsonl). InputError naming
// file:line and the field for two identical responses in one ranking (after trimming white space:
// a ranking between equal answers teaches nothing and usually means a labeling bug) and for a
// prompt + response longer than n_ctx tokens (hint: shorten or drop the example). Of answers the
// ranking marks as tied ("ties") only the first is kept (their order is unknown: a pair of them
// would teach noise); a ranking left with one answer is skipped, with a note on stderr.
// (A file of nothing but ties is an InputError.)
std::vector<EncodedRanking> encode_rankings(const std::filesystem::path& file,
                                            const std::vector<RankingExample>& examples,
                                            const ResponseRenderer& renderer, int n_ctx);

// Deterministic split: a seeded Fisher-Yates permutation; the first round(n·fraction) rankings
// (at least 1 when fraction > 0) are held out. UsageError when nothing is left to train on.
void split_rankings(std::vector<EncodedRanking> all, double val_fraction, uint64_t seed,
                    std::vector<EncodedRanking>& train, std::vector<EncodedRanking>& val);

// Epoch-wise shuffled order over n items: the item at stream `position` is entry position % n of
// a permutation seeded by (seed, epoch = position / n). The whole data state is the position.
class ShuffledOrder {
 public:
  ShuffledOrder(size_t n, uint64_t seed) : n_(n), seed_(seed) {}
  size_t at(int64_t position);

 private:
  size_t n_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<size_t> perm_;
};

}  // namespace lmforge
