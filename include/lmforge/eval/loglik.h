// Log-likelihoods of continuations after contexts, the harness's `loglikelihood` and
// `loglikelihood_rolling` requests, on lmforge's KV-cached inference forward (infer/engine.h).
// Notable choices:
// - Tokens are split as the harness's _encode_pair splits them: trailing spaces of the context
//   move to the continuation, the pair is encoded whole, and the continuation is what follows the
//   context's own encoding; an empty context is the prefix token (bos, else <|endoftext|>).
// - Shared scoring: the questions of a group are forwarded once per context (one batched call),
//   each context's keys and values are copied into a cache per further choice, and every
//   continuation of the group runs in a second batched call. The first continuation token is
//   scored from the context's last row. A question whose context + continuation does not fit the
//   window falls back to the harness's left-truncated single forward (score_separate).
// - Log-softmax in double over float logits.
// Not here: building the prompts (eval/task.h), the rules that turn log-likelihoods into scores
// (eval/metrics.h).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lmforge/data/tokenizer.h"
#include "lmforge/infer/engine.h"

namespace lmforge {

struct EncodedRequest {
  std::vector<int32_t> context, continuation;
};
// The harness's _encode_pair (see the file comment). prefix_id: the token that stands for an
// empty context.
EncodedRequest encode_request(const Tokenizer& tok, const std::string& context,
                              const std::string& continuation, int32_t prefix_id);
// bos when the tokenizer has one ("<|begin_of_text|>", "<s>"), else <|endoftext|>.
int32_t prefix_token(const Tokenizer& tok);

struct ContinuationScore {
  double ll = 0;       // Σ log p(continuation token | everything before it)
  bool greedy = true;  // every continuation token was the argmax
};

// One question: its context and the continuation of each choice, as ids.
struct QuestionIds {
  std::vector<int32_t> context;
  std::vector<std::vector<int32_t>> continuations;
};

class LogLikScorer {
 public:
  // max_length: the window (0: the model's n_ctx).
  LogLikScorer(InferenceModel& model, int max_length = 0);
  int max_length() const { return max_len_; }

  // Shared-context scoring of each question's choices (see the file comment), in batched groups.
  std::vector<std::vector<ContinuationScore>> score(std::span<const QuestionIds> questions);
  // The plain way: one forward over (context + continuation)[-(max_length+1):][:-1].
  ContinuationScore score_separate(std::span<const int32_t> context,
                                   std::span<const int32_t> continuation);
  // Σ log p of every token of a document, in the harness's rolling windows of max_length
  // (the first predicted from `prefix`, each later window with as much left context as fits).
  double rolling(std::span<const int32_t> tokens, int32_t prefix);

 private:
  void score_group(std::span<const QuestionIds> qs, std::span<std::vector<ContinuationScore>> out);
  KVCache& cache(size_t i, int capacity);

  InferenceModel& model_;
  int max_len_;
  int capacity_ = 0;
  std::vector<std::unique_ptr<KVCache>> caches_;  // share capacity_ (one forward needs that)
};

// log softmax of logits (V) at `target`, in double; also whether target is the argmax.
double log_prob(const float* logits, int V, int32_t target, bool* is_argmax = nullptr);

}  // namespace lmforge
