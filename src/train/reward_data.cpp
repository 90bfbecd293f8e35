// Prompt + response rendering and rankings validation for the reward model and DPO
// (reward_data.h).
#include "lmforge/train/reward_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "lmforge/core/error.h"
#include "lmforge/data/chat_render.h"
#include "lmforge/infer/chat_template.h"

namespace lmforge {

ResponseRenderer::ResponseRenderer(const Tokenizer& tok) : tok_(&tok) {
  auto start = tok.special_id("<|im_start|>"), end = tok.special_id("<|im_end|>");
  chat_ = start.has_value() && end.has_value();
  if (chat_) {
    end_id_ = *end;
  } else if (auto eot = tok.special_id("<|endoftext|>")) {
    end_id_ = *eot;
  }
}

std::vector<int32_t> ResponseRenderer::prompt_ids(const std::string& prompt) const {
  if (!chat_) {
    std::vector<int32_t> ids = tok_->encode(prompt);
    // An empty raw prompt starts from the end-of-text token (GPT-2's document start), so the
    // first response token still has a position that predicts it.
    if (ids.empty() && end_id_ >= 0) ids.push_back(end_id_);
    return ids;
  }
  // ChatML, the template lmforge's instruct stage trains with; a model tuned elsewhere with another
  // template is still scored in ChatML here (the chat, serve and PPO paths use the model's own).
  ChatTemplate tmpl;
  return tmpl.encode(*tok_, {ChatMessage{"user", prompt}}, true);
}

std::vector<int32_t> ResponseRenderer::response_ids(const std::string& response) const {
  // ChatML writes a space before the reply (data/chat_render.h): the reply's ids are the ones the
  // instruct stage trained and the policy generates after the assistant header.
  std::vector<int32_t> ids =
      tok_->encode(chat_ ? chat_content_text({"assistant", response}) : response);
  if (end_id_ >= 0) ids.push_back(end_id_);
  return ids;
}

std::vector<int32_t> EncodedRanking::row(size_t k) const {
  std::vector<int32_t> r = prompt;
  r.insert(r.end(), responses[k].begin(), responses[k].end());
  return r;
}

PaddedRankings pad_rankings(const std::vector<const EncodedRanking*>& rs) {
  PaddedRankings b;
  size_t T = 0;
  for (const EncodedRanking* r : rs) {
    b.first_row.push_back(size_t(b.B));
    b.B += int(r->rows());
    for (const auto& resp : r->responses) T = std::max(T, r->prompt.size() + resp.size());
  }
  b.T = int(T);
  b.ids.assign(size_t(b.B) * T, 0);
  b.last.assign(size_t(b.B), 0);
  size_t row = 0;
  for (const EncodedRanking* r : rs)
    for (size_t k = 0; k < r->rows(); ++k, ++row) {
      std::vector<int32_t> ids = r->row(k);
      std::copy(ids.begin(), ids.end(), b.ids.begin() + long(row * T));
      b.last[row] = int(ids.size()) - 1;
    }
  return b;
}

namespace {

std::string trimmed(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

}  // namespace

std::vector<EncodedRanking> encode_rankings(const std::filesystem::path& file,
                                            const std::vector<RankingExample>& examples,
                                            const ResponseRenderer& renderer, int n_ctx) {
  std::vector<EncodedRanking> out;
  out.reserve(examples.size());
  int64_t untied = 0, all_tied = 0;
  for (const RankingExample& ex_in : examples) {
    // Tied answers carry no order among themselves: keep the first of each tie group, so no
    // loss or accuracy pair is made of two answers the ranker could not tell apart.
    RankingExample ex = ex_in;
    if (!ex.ties.empty()) {
      std::vector<bool> drop(ex.responses.size(), false);
      for (const auto& g : ex.ties)
        for (size_t i = 1; i < g.size(); ++i) drop[g[i]] = true;
      std::vector<std::string> kept;
      for (size_t k = 0; k < ex.responses.size(); ++k)
        if (!drop[k]) kept.push_back(ex.responses[k]);
      untied += int64_t(ex.responses.size() - kept.size());
      ex.responses = std::move(kept);
      if (ex.responses.size() < 2) {
        ++all_tied;
        continue;
      }
    }
    const auto field = [](size_t k) { return "responses[" + std::to_string(k) + "]"; };
    if (ex.responses.size() < 2)
      throw InputError(file.string(), ex.line, "responses",
                       "expected at least 2 responses, got " + std::to_string(ex.responses.size()));
    for (size_t i = 0; i < ex.responses.size(); ++i)
      for (size_t j = i + 1; j < ex.responses.size(); ++j)
        if (trimmed(ex.responses[i]) == trimmed(ex.responses[j]))
          throw InputError(file.string(), ex.line, field(j), "is the same answer as " + field(i),
                           "a ranking needs different answers: drop the duplicate (or mark a "
                           "tie by keeping only one)");
    EncodedRanking r;
    r.line = ex.line;
    r.prompt = renderer.prompt_ids(ex.prompt);
    if (r.prompt.empty())
      throw InputError(file.string(), ex.line, "prompt", "is empty",
                       "give each ranking the prompt its answers respond to");
    if (int64_t(r.prompt.size()) >= n_ctx)
      throw InputError(file.string(), ex.line, "prompt",
                       "is " + std::to_string(r.prompt.size()) +
                           " tokens, which leaves no room for a response in the model's context "
                           "of " +
                           std::to_string(n_ctx),
                       "shorten the prompt or drop this example");
    for (size_t k = 0; k < ex.responses.size(); ++k) {
      r.responses.push_back(renderer.response_ids(ex.responses[k]));
      const size_t len = r.prompt.size() + r.responses.back().size();
      if (int64_t(len) > n_ctx)
        throw InputError(file.string(), ex.line, field(k),
                         "prompt + response is " + std::to_string(len) +
                             " tokens, longer than the model's context of " + std::to_string(n_ctx),
                         "shorten the answer or drop this example");
    }
    out.push_back(std::move(r));
  }
  if (untied)
    std::fprintf(stderr,
                 "%s: %lld tied answer(s) set aside (one of each tie is kept); %lld ranking(s) "
                 "were all ties and are skipped\n",
                 file.c_str(), static_cast<long long>(untied), static_cast<long long>(all_tied));
  if (out.empty())
    throw InputError(file.string(), 0, "ties", "every ranking is all ties: nothing to learn",
                     "rank the answers (ties only where they are truly equal)");
  return out;
}

namespace {

std::vector<size_t> permutation(size_t n, uint64_t seed) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(seed);  // mt19937_64's output is fixed by the standard; the shuffle is ours
  for (size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng() % i]);
  return p;
}

}  // namespace

void split_rankings(std::vector<EncodedRanking> all, double val_fraction, uint64_t seed,
                    std::vector<EncodedRanking>& train, std::vector<EncodedRanking>& val) {
  if (val_fraction < 0 || val_fraction >= 1)
    throw UsageError("--val-fraction must be in [0, 1), got " + std::to_string(val_fraction));
  size_t n_val = 0;
  if (val_fraction > 0)
    n_val = std::max<size_t>(1, size_t(std::llround(double(all.size()) * val_fraction)));
  if (n_val >= all.size())
    throw UsageError("--val-fraction " + std::to_string(val_fraction) + " leaves no training " +
                     "rankings out of " + std::to_string(all.size()) +
                     " (hint: lower it or add data)");
  std::vector<size_t> p = permutation(all.size(), seed ^ 0x5eed5a17u);
  train.clear();
  val.clear();
  std::vector<bool> is_val(all.size(), false);
  for (size_t i = 0; i < n_val; ++i) is_val[p[i]] = true;
  for (size_t i = 0; i < all.size(); ++i) (is_val[i] ? val : train).push_back(std::move(all[i]));
}

size_t ShuffledOrder::at(int64_t position) {
  const int64_t epoch = position / int64_t(n_);
  if (epoch != epoch_) {
    perm_ = permutation(n_, seed_ * 0x9e3779b97f4a7c15ull + uint64_t(epoch));
    epoch_ = epoch;
  }
  return perm_[size_t(position % int64_t(n_))];
}

}  // namespace lmforge
