// Chat prompt rendering for inference. lmforge does not embed a Jinja engine: it recognizes the
// ChatML template (Qwen/SmolLM/OpenAI style: <|im_start|>role\ncontent<|im_end|>\n) in
// tokenizer_config.json's `chat_template`, uses ChatML when there is none, and refuses any other
// template with a clear UsageError rather than guessing a format the model was not trained on.
// Rendering is data/chat_render.h (ids + loss mask), shared with the instruct stage.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lmforge/data/datasets.h"
#include "lmforge/data/tokenizer.h"

namespace lmforge {

class ChatTemplate {
 public:
  // Reads model_dir/tokenizer_config.json (absent file or key: ChatML).
  static ChatTemplate load(const std::filesystem::path& model_dir);
  // The template string as given ("" when defaulted), and its recognized name ("chatml").
  const std::string& source() const { return source_; }
  const std::string& name() const { return name_; }

  // The prompt text for `messages`, ending with the assistant header when add_generation_prompt.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // Token ids of render(); the markers become special ids where the tokenizer has them.
  std::vector<int32_t> encode(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt) const;
  // Text that ends an assistant turn ("<|im_end|>"), and the ids that do (im_end, eot if any).
  std::string end_of_turn() const { return "<|im_end|>"; }
  std::vector<int32_t> stop_ids(const Tokenizer& tok) const;

 private:
  std::string source_, name_ = "chatml";
};

}  // namespace lmforge
