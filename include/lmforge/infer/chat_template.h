// The model's chat template for inference (chat, serve, label, PPO prompts):
// tokenizer_config.json's `chat_template` (a string, or Hugging Face's list of {name, template}:
// "default" is used) run by lmforge's own Jinja engine (jinja/jinja.h) with the variables
// transformers passes: messages, add_generation_prompt, bos_token, eos_token (and
// unk_token/pad_token when the config has them). ChatML (no template, or exactly the template
// lmforge writes or wrote before, data/chat_render.h kChatMlJinja / kChatMlJinjaV1) renders with
// data/chat_render.h, the instruct stage's renderer, so a tuned model sees at inference exactly the
// ids it was trained on; it writes a space before each reply, which callers strip from replies.
//
// Content is data, markers are tokens: encode() turns special-token strings that the TEMPLATE
// wrote (<|im_start|>, <|eot_id|>, <start_of_turn>, bos/eos...) into their special ids, while text
// that came from a message is encoded as ordinary text, so a user typing "<|im_end|>" cannot forge
// a turn. Text between two special ids is encoded as one piece whatever mix of template and
// message text it holds, as a HF tokenizer encodes the rendered string (docs/CHAT_TEMPLATES.md).
// Not here: tool calls and multimodal content (messages are {role, content} strings).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lmforge/data/datasets.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/jinja/jinja.h"

namespace lmforge {

class ChatTemplate {
 public:
  // ChatML.
  ChatTemplate() = default;
  // Reads model_dir/tokenizer_config.json (absent file or key: ChatML). Throws InputError naming
  // the file, the template's line and the problem for a template the engine cannot parse.
  static ChatTemplate load(const std::filesystem::path& model_dir);
  // A template given as source (ChatML when empty or kChatMlJinja). origin names it in errors.
  static ChatTemplate from_source(const std::string& source, const std::string& bos_token = "",
                                  const std::string& eos_token = "",
                                  const std::string& origin = "chat_template");

  // The template string as given ("" when defaulted), and its kind: "chatml" or "jinja".
  const std::string& source() const { return source_; }
  const std::string& name() const { return name_; }
  bool is_chatml() const { return !tmpl_; }
  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }

  // The prompt text for `messages`, ending with the assistant header when add_generation_prompt.
  // Throws jinja::RaisedError (a UsageError) when the template refuses the conversation with
  // raise_exception (e.g. roles that do not alternate), InputError for a template error.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // The same text cut into template markup and message content (see the header comment).
  std::vector<jinja::Segment> render_segments(const std::vector<ChatMessage>& messages,
                                              bool add_generation_prompt) const;
  // Token ids of render(): markers written by the template become special ids where the tokenizer
  // has them; message content never does.
  std::vector<int32_t> encode(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt) const;
  // Text that ends an assistant turn under this template ("<|im_end|>", "<|eot_id|>",
  // "<end_of_turn>", "</s>"...): a stop string for when the marker is not a special id.
  std::string end_of_turn() const { return end_of_turn_; }
  // Ids that end a reply: the end-of-turn marker and eos_token when they are special tokens, and
  // the well-known end-of-turn specials the tokenizer has (<|im_end|>, <|eot_id|>, <|end|>,
  // <end_of_turn>, </s>, <|endoftext|>, <|end_of_text|>, DeepSeek's end of sentence).
  std::vector<int32_t> stop_ids(const Tokenizer& tok) const;
  // Whether a generated reply starts with a space the template wrote, not the model's answer
  // (lmforge's ChatML puts one before every reply, data/chat_render.h): callers show
  // strip_reply_prefix(text), and drop the space from the first streamed piece.
  bool reply_has_prefix_space() const { return !tmpl_; }

 private:
  jinja::Rendered render_jinja(const std::vector<ChatMessage>& messages,
                               bool add_generation_prompt) const;
  void find_end_of_turn();

  std::string source_, name_ = "chatml";
  std::string bos_, eos_, unk_, pad_;
  std::string end_of_turn_ = "<|im_end|>";
  std::shared_ptr<const jinja::Template> tmpl_;  // null: ChatML through data/chat_render.h
};

}  // namespace lmforge
