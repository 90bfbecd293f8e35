// Text generation on top of the inference forward: a Sequence is one generation in flight (its
// KV cache, sampler, the tokens produced, the text released so far, why it stopped), and step()
// advances any number of Sequences together with one batched forward, which is how both the
// single-stream CLI and the server's scheduler generate.
// Text is released carefully: bytes of an incomplete UTF-8 character and a tail that could still
// become a stop string are held back until they are decided, so a streamed piece never has to be
// taken back. Not here: the chat template (chat_template.h), HTTP.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lmforge/data/tokenizer.h"
#include "lmforge/infer/engine.h"
#include "lmforge/infer/sampler.h"

namespace lmforge {

struct GenerateRequest {
  std::vector<int32_t> prompt;  // at least one token
  int max_tokens = 128;         // new tokens at most (also bounded by the context)
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings: the text ends before the first one found
  std::vector<int32_t> stop_ids;  // end-of-sequence tokens (not part of the text)
  int top_logprobs = -1;          // >= 0: record each token's logprob and this many alternatives
};

struct TokenLogprob {
  int32_t id;
  double logprob;
  std::vector<std::pair<int32_t, double>> top;
};

// Why a sequence ended, in OpenAI's words.
enum class FinishReason { kNone, kStop, kLength };
const char* finish_reason_name(FinishReason r);  // "stop" | "length" | null for kNone

class Sequence {
 public:
  // cache: a cache to reuse (its common prefix with the prompt is kept, the rest recomputed);
  // when empty or null a fresh one sized for prompt + max_tokens (capped at the context) is made.
  // Throws UsageError when the prompt alone does not fit the context.
  Sequence(const InferenceModel& model, const Tokenizer& tok, GenerateRequest req,
           std::unique_ptr<KVCache> cache = nullptr, int cache_capacity = 0);

  bool done() const { return finish_ != FinishReason::kNone; }
  FinishReason finish_reason() const { return finish_; }
  // Marks the sequence finished (client went away); it is skipped by later steps.
  void cancel() {
    if (!done()) finish_ = FinishReason::kStop;
  }

  // The tokens to feed next (the uncached prompt suffix, then the last sampled token).
  std::span<const int32_t> pending() const { return pending_; }
  KVCache& cache() { return *cache_; }
  std::unique_ptr<KVCache> release_cache() { return std::move(cache_); }
  // Consumes the logits (V) that followed pending(): samples, checks stops, returns the newly
  // released text (possibly empty).
  std::string accept(const float* logits);

  const std::vector<int32_t>& generated() const { return generated_; }
  const std::string& text() const { return released_; }  // all released text so far
  const std::vector<TokenLogprob>& logprobs() const { return logprobs_; }
  int prompt_tokens() const { return (int)req_.prompt.size(); }
  int cached_prompt_tokens() const { return reused_; }
  const GenerateRequest& request() const { return req_; }

 private:
  void finish(FinishReason r);
  std::string release(bool final_flush);

  const Tokenizer& tok_;
  int V_;
  GenerateRequest req_;
  std::unique_ptr<KVCache> cache_;
  Sampler sampler_;
  std::vector<int32_t> pending_, history_, generated_;
  std::vector<TokenLogprob> logprobs_;
  std::string bytes_;     // decoded bytes of all generated tokens (up to a stop)
  std::string released_;  // prefix of bytes_ handed out
  int max_new_ = 0, reused_ = 0;
  FinishReason finish_ = FinishReason::kNone;
};

// One forward for every unfinished sequence (each feeds its pending tokens), then accept() on
// each. on_text(i, piece) receives released text of seqs[i]. Returns the number advanced.
int step(InferenceModel& model, std::span<Sequence* const> seqs,
         const std::function<void(size_t, const std::string&)>& on_text = {});

// Longest prefix of `bytes` that ends on a UTF-8 character boundary (an incomplete trailing
// character is held back; invalid bytes are released as they are).
size_t utf8_complete_prefix(const std::string& bytes);

}  // namespace lmforge
