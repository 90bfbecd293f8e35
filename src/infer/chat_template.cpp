// ChatML recognition and rendering. A template is accepted as ChatML when it writes both
// "<|im_start|>" and "<|im_end|>" markers around the role and content (every ChatML Jinja
// variant does); anything else is refused by name. Rendering itself is data/chat_render.h, the
// same code the instruct stage trains with.
#include "lmforge/infer/chat_template.h"

#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/chat_render.h"

namespace lmforge {

ChatTemplate ChatTemplate::load(const std::filesystem::path& model_dir) {
  ChatTemplate t;
  const auto path = model_dir / "tokenizer_config.json";
  if (!std::filesystem::exists(path)) return t;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string(), 0, "", std::string("invalid JSON: ") + e.what());
  }
  if (!j.contains("chat_template") || j["chat_template"].is_null()) return t;
  if (!j["chat_template"].is_string())
    throw InputError(path.string(), 0, "chat_template",
                     "expected a string (lists of named templates are not supported)");
  t.source_ = j["chat_template"].get<std::string>();
  if (t.source_.find("<|im_start|>") == std::string::npos ||
      t.source_.find("<|im_end|>") == std::string::npos)
    throw InputError(path.string(), 0, "chat_template",
                     "unsupported chat template: lmforge recognizes only ChatML "
                     "(<|im_start|>role ... <|im_end|>), it has no general Jinja engine",
                     "remove chat_template to use ChatML, or convert the model's template");
  return t;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  return render_chat_text(messages, add_generation_prompt);
}

std::vector<int32_t> ChatTemplate::encode(const Tokenizer& tok,
                                          const std::vector<ChatMessage>& messages,
                                          bool add_generation_prompt) const {
  // The training renderer's ids (data/chat_render.h), so a tuned model sees at inference exactly
  // the token sequence it was trained on. Markers become special ids; message contents are
  // ordinary text, so a user typing "<|im_end|>" cannot forge a turn boundary.
  return render_chat(tok, messages, add_generation_prompt).ids;
}

std::vector<int32_t> ChatTemplate::stop_ids(const Tokenizer& tok) const {
  std::vector<int32_t> ids;
  for (const char* s : {"<|im_end|>", "<|endoftext|>"})
    if (auto id = tok.special_id(s)) ids.push_back(*id);
  return ids;
}

}  // namespace lmforge
