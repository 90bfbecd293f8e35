// A multi-turn conversation with a model: the message history, rendering with the chat template,
// fitting the context window (the oldest user/assistant turns are dropped first, the system
// message is kept; each drop is reported), and the KV cache carried from one reply to the next so
// only the new turn's tokens are computed. Not here: terminal I/O (cli/chat.cpp), HTTP.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lmforge/infer/generate.h"
#include "lmforge/infer/loaded_model.h"

namespace lmforge {

class ChatSession {
 public:
  ChatSession(LoadedModel& model, std::string system, int max_reply_tokens, SamplingParams s);

  struct Reply {
    std::string text;
    int prompt_tokens = 0, reused_tokens = 0, generated_tokens = 0, dropped_turns = 0;
    FinishReason finish = FinishReason::kNone;
  };
  // Adds the user's message, generates the reply (on_text gets it piece by piece, on_notice any
  // message about dropped turns) and adds it to the history. When even the newest message alone
  // does not fit, nothing is generated and the message is not kept (Reply.finish stays kNone).
  Reply send(const std::string& user, const std::function<void(const std::string&)>& on_text,
             const std::function<void(const std::string&)>& on_notice);
  void reset();  // forgets every turn but the system message
  const std::vector<ChatMessage>& history() const { return history_; }

 private:
  LoadedModel& m_;
  ChatTemplate template_;
  std::vector<ChatMessage> history_;
  int max_reply_;
  SamplingParams s_;
  std::unique_ptr<KVCache> cache_;
  int turn_ = 0;
};

}  // namespace lmforge
