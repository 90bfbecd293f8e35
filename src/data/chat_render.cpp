// ChatML rendering with loss masks (see chat_render.h).
#include "lmforge/data/chat_render.h"

namespace lmforge {

const char* const kChatMlJinja =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "(' ' if message['role'] == 'assistant' else '') + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif "
    "%}";

const char* const kChatMlJinjaV1 =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";

std::string chat_content_text(const ChatMessage& m) {
  return m.role == "assistant" ? " " + m.content : m.content;
}

std::string strip_reply_prefix(const std::string& reply) {
  return !reply.empty() && reply[0] == ' ' ? reply.substr(1) : reply;
}

namespace {

// Appends a marker as one special id when the tokenizer has it, else as text.
void append_marker(const Tokenizer& tok, const char* marker, uint8_t m, RenderedChat& out) {
  const size_t before = out.ids.size();
  if (auto id = tok.special_id(marker))
    out.ids.push_back(*id);
  else
    tok.encode_append(marker, out.ids);
  out.mask.resize(out.ids.size(), 0);
  for (size_t i = before; i < out.ids.size(); ++i) out.mask[i] = m;
}

}  // namespace

RenderedChat render_chat(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                         bool add_generation_prompt) {
  RenderedChat out;
  for (const ChatMessage& msg : messages) {
    const bool trained = msg.role == "assistant";
    append_marker(tok, "<|im_start|>", 0, out);
    // "role\ncontent" as one piece; tokens ending inside the header are context, the rest (the
    // content, including a token that straddles the boundary) is trained for assistant turns.
    const std::string header = msg.role + "\n";
    const size_t first = out.ids.size();
    tok.encode_append(header + chat_content_text(msg), out.ids);
    out.mask.resize(out.ids.size(), 0);
    size_t bytes = 0;
    for (size_t i = first; i < out.ids.size(); ++i) {
      bytes += tok.token_bytes(out.ids[i]).size();
      out.mask[i] = trained && bytes > header.size();
    }
    append_marker(tok, "<|im_end|>", trained, out);
    append_marker(tok, "\n", 0, out);
  }
  if (add_generation_prompt) {
    append_marker(tok, "<|im_start|>", 0, out);
    append_marker(tok, "assistant\n", 0, out);
  }
  return out;
}

std::string render_chat_text(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages)
    out += "<|im_start|>" + m.role + "\n" + chat_content_text(m) + "<|im_end|>\n";
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace lmforge
