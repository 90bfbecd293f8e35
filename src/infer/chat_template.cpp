// ChatML recognition and rendering. A template is accepted as ChatML when it writes both
// "<|im_start|>" and "<|im_end|>" markers around the role and content (every ChatML Jinja
// variant does); anything else is refused by name.
#include "lmforge/infer/chat_template.h"

#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

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
  std::string out;
  for (const ChatMessage& m : messages)
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::vector<int32_t> ChatTemplate::encode(const Tokenizer& tok,
                                          const std::vector<ChatMessage>& messages,
                                          bool add_generation_prompt) const {
  // Markers become special ids; message contents are ordinary text, so a user typing
  // "<|im_end|>" cannot forge a turn boundary.
  std::vector<int32_t> ids;
  auto marker = [&](const std::string& m) {
    if (auto id = tok.special_id(m))
      ids.push_back(*id);
    else
      tok.encode_append(m, ids);
  };
  for (const ChatMessage& m : messages) {
    marker("<|im_start|>");
    tok.encode_append(m.role + "\n" + m.content, ids);
    marker("<|im_end|>");
    tok.encode_append("\n", ids);
  }
  if (add_generation_prompt) {
    marker("<|im_start|>");
    tok.encode_append("assistant\n", ids);
  }
  return ids;
}

std::vector<int32_t> ChatTemplate::stop_ids(const Tokenizer& tok) const {
  std::vector<int32_t> ids;
  for (const char* s : {"<|im_end|>", "<|endoftext|>"})
    if (auto id = tok.special_id(s)) ids.push_back(*id);
  return ids;
}

}  // namespace lmforge
