// Shared-context and plain log-likelihood scoring on the KV-cached forward (eval/loglik.h).
#include "lmforge/eval/loglik.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lmforge/core/error.h"
#include "lmforge/infer/prefix_cache.h"

namespace lmforge {
namespace {

// Caches of one group stay under this many bytes (a group is at least one question).
constexpr size_t kGroupCacheBytes = size_t(256) << 20;
// Rows of one batched forward at most (beyond this the GEMM gains nothing and logits grow).
constexpr size_t kGroupRows = 2048;

bool is_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

// The first n positions of src's keys and values into dst (same capacity).
void copy_rows(const ModelConfig& cfg, KVCache& dst, KVCache& src, int n) {
  const size_t plane = (size_t)src.capacity() * cfg.head_dim;  // one kv head's (maxT, HS)
  const size_t bytes = (size_t)n * cfg.head_dim * sizeof(float);
  for (int l = 0; l < cfg.n_layer; ++l)
    for (int g = 0; g < cfg.n_kv_head; ++g) {
      std::memcpy(dst.k(l) + g * plane, src.k(l) + g * plane, bytes);
      std::memcpy(dst.v(l) + g * plane, src.v(l) + g * plane, bytes);
    }
  dst.mutable_tokens().assign(src.tokens().begin(), src.tokens().begin() + n);
}

}  // namespace

double log_prob(const float* logits, int V, int32_t target, bool* is_argmax) {
  float mx = logits[0];
  int arg = 0;
  for (int i = 1; i < V; ++i)
    if (logits[i] > mx) mx = logits[i], arg = i;
  double sum = 0;
  for (int i = 0; i < V; ++i) sum += std::exp(double(logits[i]) - double(mx));
  if (is_argmax) *is_argmax = arg == target;
  return double(logits[target]) - double(mx) - std::log(sum);
}

int32_t prefix_token(const Tokenizer& tok) {
  for (const char* b : {"<|begin_of_text|>", "<s>", "<|startoftext|>"})
    if (auto id = tok.special_id(b)) return *id;
  return tok.eot_id();
}

EncodedRequest encode_request(const Tokenizer& tok, const std::string& context,
                              const std::string& continuation, int32_t prefix_id) {
  EncodedRequest r;
  if (context.empty()) {
    r.context = {prefix_id};
    r.continuation = tok.encode(continuation);
    return r;
  }
  size_t cut = context.size();
  while (cut > 0 && is_space((unsigned char)context[cut - 1])) --cut;
  const std::string ctx = context.substr(0, cut);
  const std::string cont = context.substr(cut) + continuation;
  const std::vector<int32_t> whole = tok.encode(ctx + cont);
  r.context = tok.encode(ctx);
  if (r.context.empty()) r.context = {prefix_id};  // an all-space context: nothing before it
  const size_t n = std::min(r.context.size(), whole.size());
  r.continuation.assign(whole.begin() + (ptrdiff_t)(ctx.empty() ? 0 : n), whole.end());
  return r;
}

LogLikScorer::LogLikScorer(InferenceModel& model, int max_length)
    : model_(model), max_len_(max_length > 0 ? max_length : model.config().n_ctx) {
  if (max_len_ > model.config().n_ctx)
    throw UsageError("--max-length " + std::to_string(max_len_) + " exceeds the model's context " +
                     std::to_string(model.config().n_ctx));
}

KVCache& LogLikScorer::cache(size_t i, int capacity) {
  if (capacity > capacity_) {  // grow every cache: one forward needs one capacity
    capacity_ = std::min(max_len_, std::max(capacity, ((capacity + 63) / 64) * 64));
    for (auto& c : caches_) c = std::make_unique<KVCache>(model_.config(), capacity_);
  }
  while (caches_.size() <= i)
    caches_.push_back(std::make_unique<KVCache>(model_.config(), capacity_));
  return *caches_[i];
}

ContinuationScore LogLikScorer::score_separate(std::span<const int32_t> context,
                                               std::span<const int32_t> continuation) {
  ContinuationScore s;
  const size_t n = continuation.size();
  if (n == 0) return s;
  if (n > (size_t)max_len_)
    throw UsageError("a continuation of " + std::to_string(n) +
                     " tokens does not fit the window of " + std::to_string(max_len_));
  std::vector<int32_t> all(context.begin(), context.end());
  all.insert(all.end(), continuation.begin(), continuation.end());
  const size_t keep = std::min(all.size(), (size_t)max_len_ + 1);
  std::vector<int32_t> input(all.end() - (ptrdiff_t)keep, all.end() - 1);
  KVCache& c = cache(0, (int)input.size());
  c.truncate(0);
  const ForwardChunk chunk{&c, input};
  const float* logits = model_.forward({&chunk, 1}, true);
  const int V = model_.config().vocab_size;
  for (size_t j = 0; j < n; ++j) {
    bool top = false;
    s.ll += log_prob(logits + (input.size() - n + j) * V, V, continuation[j], &top);
    s.greedy = s.greedy && top;
  }
  return s;
}

std::vector<std::vector<ContinuationScore>> LogLikScorer::score(std::span<const QuestionIds> qs) {
  std::vector<std::vector<ContinuationScore>> out(qs.size());
  const ModelConfig& cfg = model_.config();
  size_t i = 0;
  while (i < qs.size()) {
    // A group: consecutive questions that fit the window, within the cache and row budgets.
    size_t j = i, caches = 0, rows = 0;
    int cap = 0;
    while (j < qs.size()) {
      const QuestionIds& q = qs[j];
      size_t longest = 0, cont_rows = 0;
      for (const auto& c : q.continuations)
        longest = std::max(longest, c.size()), cont_rows += c.size();
      const size_t need = q.context.size() + longest;
      if (need > (size_t)max_len_ || q.continuations.empty()) {
        if (j == i) {  // on its own: the plain way, choice by choice
          for (const auto& c : q.continuations) out[j].push_back(score_separate(q.context, c));
          ++j;
        }
        break;
      }
      const int cap_j = std::max(cap, (int)need);
      const size_t c_j = caches + q.continuations.size(), r_j = rows + q.context.size() + cont_rows;
      if (j > i && (c_j * kv_cache_bytes(cfg, cap_j) > kGroupCacheBytes || r_j > kGroupRows)) break;
      cap = cap_j, caches = c_j, rows = r_j;
      ++j;
    }
    if (cap > 0) score_group(qs.subspan(i, j - i), std::span(out).subspan(i, j - i));
    i = j;
  }
  return out;
}

void LogLikScorer::score_group(std::span<const QuestionIds> qs,
                               std::span<std::vector<ContinuationScore>> out) {
  const int V = model_.config().vocab_size;
  int cap = 0;
  size_t ncache = 0;
  for (const auto& q : qs) {
    size_t longest = 0;
    for (const auto& c : q.continuations) longest = std::max(longest, c.size());
    cap = std::max(cap, int(q.context.size() + longest));
    ncache += q.continuations.size();
  }
  cache(ncache - 1, cap);  // sizes the pool before any pointer is taken
  // Cache of choice c of question q: first[q] + c; choice 0 holds the context itself.
  std::vector<size_t> first(qs.size());
  std::vector<ForwardChunk> chunks;
  for (size_t q = 0, k = 0; q < qs.size(); k += qs[q].continuations.size(), ++q) {
    first[q] = k;
    KVCache& c = *caches_[k];
    c.truncate(0);
    chunks.push_back({&c, qs[q].context});
  }
  // Pass 1: every context once; its last row scores each choice's first token.
  const float* logits = model_.forward(chunks, false);
  for (size_t q = 0; q < qs.size(); ++q) {
    out[q].assign(qs[q].continuations.size(), ContinuationScore{});
    for (size_t c = 0; c < qs[q].continuations.size(); ++c) {
      const auto& cont = qs[q].continuations[c];
      if (cont.empty()) continue;
      bool top = false;
      out[q][c].ll = log_prob(logits + q * V, V, cont[0], &top);
      out[q][c].greedy = top;
    }
  }
  // Pass 2: the rest of every continuation after a copy of its context.
  chunks.clear();
  std::vector<std::pair<size_t, size_t>> who;  // (question, choice) of each chunk
  for (size_t q = 0; q < qs.size(); ++q) {
    KVCache& ctx = *caches_[first[q]];
    const int n = ctx.size();
    for (size_t c = 0; c < qs[q].continuations.size(); ++c) {
      const auto& cont = qs[q].continuations[c];
      if (cont.size() < 2) continue;
      KVCache& dst = *caches_[first[q] + c];
      if (c > 0) copy_rows(model_.config(), dst, ctx, n);
      chunks.push_back({&dst, std::span<const int32_t>(cont).first(cont.size() - 1)});
      who.emplace_back(q, c);
    }
  }
  // Choice 0 extends the context's own cache, so it must run after every copy: it does, since
  // the copies above are made before this forward.
  if (chunks.empty()) return;
  logits = model_.forward(chunks, true);
  size_t row = 0;
  for (size_t k = 0; k < chunks.size(); ++k) {
    const auto [q, c] = who[k];
    const auto& cont = qs[q].continuations[c];
    for (size_t t = 1; t < cont.size(); ++t, ++row) {
      bool top = false;
      out[q][c].ll += log_prob(logits + row * V, V, cont[t], &top);
      out[q][c].greedy = out[q][c].greedy && top;
    }
  }
}

double LogLikScorer::rolling(std::span<const int32_t> tokens, int32_t prefix) {
  const size_t N = tokens.size(), T = (size_t)max_len_;
  if (N == 0) return 0;
  const int V = model_.config().vocab_size;
  // s = [prefix] + tokens: token i is s[i + 1], predicted from s[..i].
  std::vector<int32_t> s;
  s.reserve(N + 1);
  s.push_back(prefix);
  s.insert(s.end(), tokens.begin(), tokens.end());
  double ll = 0;
  size_t done = 0;
  KVCache& c = cache(0, (int)std::min(T, N));
  while (done < N) {
    const size_t end = std::min(N, done + T);    // predicts tokens [done, end)
    const size_t start = end > T ? end - T : 0;  // its input is s[start, end)
    c.truncate(0);
    const ForwardChunk chunk{&c, std::span<const int32_t>(s).subspan(start, end - start)};
    const float* logits = model_.forward({&chunk, 1}, true);
    for (size_t t = done; t < end; ++t) ll += log_prob(logits + (t - start) * V, V, tokens[t]);
    done = end;
  }
  return ll;
}

}  // namespace lmforge
