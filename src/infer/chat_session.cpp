// Chat turns over Sequence. Context rule: the rendered prompt plus room for a reply of
// min(max_reply, n_ctx/4) tokens must fit n_ctx; while it does not, the oldest non-system turn
// (a user message and the assistant reply after it) is dropped.
#include "lmforge/infer/chat_session.h"

#include <algorithm>

#include "lmforge/data/chat_render.h"

namespace lmforge {

ChatSession::ChatSession(LoadedModel& model, std::string system, int max_reply_tokens,
                         SamplingParams s)
    : m_(model), template_(model.chat_template()), max_reply_(max_reply_tokens), s_(s) {
  if (!system.empty()) history_.push_back({"system", std::move(system)});
}

void ChatSession::reset() {
  if (!history_.empty() && history_[0].role == "system")
    history_.resize(1);
  else
    history_.clear();
}

ChatSession::Reply ChatSession::send(const std::string& user,
                                     const std::function<void(const std::string&)>& on_text,
                                     const std::function<void(const std::string&)>& on_notice) {
  Reply r;
  const int n_ctx = m_.model.config().n_ctx;
  const int room = std::max(1, std::min(max_reply_, n_ctx / 4));
  history_.push_back({"user", user});
  std::vector<int32_t> prompt = template_.encode(m_.tokenizer, history_, true);
  const size_t first = !history_.empty() && history_[0].role == "system" ? 1 : 0;
  while ((int)prompt.size() + room > n_ctx && history_.size() > first + 1) {
    // Drop the oldest turn: the user message and, when present, the reply that followed it.
    auto it = history_.begin() + first;
    const bool pair = it + 1 != history_.end() - 1 && (it + 1)->role == "assistant";
    history_.erase(it, it + (pair ? 2 : 1));
    ++r.dropped_turns;
    prompt = template_.encode(m_.tokenizer, history_, true);
  }
  if (r.dropped_turns && on_notice)
    on_notice("[context full: dropped the " + std::to_string(r.dropped_turns) +
              " oldest message(s) of the conversation]");
  if ((int)prompt.size() + 1 > n_ctx) {
    history_.pop_back();
    if (on_notice)
      on_notice("[this message is too long for the model's context of " + std::to_string(n_ctx) +
                " tokens even on its own; it was not sent]");
    return r;
  }
  GenerateRequest g;
  g.prompt = prompt;
  g.max_tokens = max_reply_;
  g.sampling = s_;
  g.sampling.seed = s_.seed + (uint64_t)turn_++;
  g.stop = {template_.end_of_turn()};
  g.stop_ids = template_.stop_ids(m_.tokenizer);
  for (int32_t id : m_.eos_ids) g.stop_ids.push_back(id);
  if (!cache_) cache_ = std::make_unique<KVCache>(m_.model.config(), n_ctx);
  Sequence seq(*m_.infer, m_.tokenizer, std::move(g), std::move(cache_));
  Sequence* one = &seq;
  // The template's space before a reply is not part of it (data/chat_render.h).
  bool strip = template_.reply_has_prefix_space();
  while (!seq.done())
    step(*m_.infer, {&one, 1}, [&](size_t, const std::string& piece) {
      std::string shown = piece;
      if (strip && !shown.empty()) {
        shown = strip_reply_prefix(shown);
        strip = false;
      }
      if (on_text && !shown.empty()) on_text(shown);
    });
  r.text = template_.reply_has_prefix_space() ? strip_reply_prefix(seq.text()) : seq.text();
  r.prompt_tokens = seq.prompt_tokens();
  r.reused_tokens = seq.cached_prompt_tokens();
  r.generated_tokens = (int)seq.generated().size();
  r.finish = seq.finish_reason();
  cache_ = seq.release_cache();
  history_.push_back({"assistant", r.text});
  return r;
}

}  // namespace lmforge
