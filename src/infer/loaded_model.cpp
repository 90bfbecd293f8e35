// Model directory loading for inference, and token escaping for display.
#include "lmforge/infer/loaded_model.h"

#include <cstdio>

#include "lmforge/core/error.h"

namespace lmforge {

std::unique_ptr<LoadedModel> LoadedModel::load(const std::filesystem::path& dir) {
  Transformer model = Transformer::load(dir);
  if (!std::filesystem::exists(dir / "tokenizer.json") &&
      !std::filesystem::exists(dir / "encoder.json"))
    throw InputError((dir / "tokenizer.json").string(), 0, "", "file not found",
                     "a model directory needs its tokenizer (lmforge pretrain copies it there)");
  Tokenizer tok = Tokenizer::load(dir);
  if (tok.vocab_size() > model.config().vocab_size)
    throw InputError((dir / "tokenizer.json").string(), 0, "",
                     "tokenizer has " + std::to_string(tok.vocab_size()) +
                         " tokens but the model's vocabulary is " +
                         std::to_string(model.config().vocab_size));
  auto m = std::unique_ptr<LoadedModel>(new LoadedModel{
      dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string(),
      std::move(model),
      std::move(tok),
      nullptr,
      {},
      dir});
  m->infer = std::make_unique<InferenceModel>(m->model);
  const int eos = m->model.config().eos_token_id;
  if (eos >= 0) m->eos_ids.push_back(eos);
  if (auto e = m->tokenizer.special_id("<|endoftext|>"); e && *e != eos) m->eos_ids.push_back(*e);
  return m;
}

ChatTemplate LoadedModel::chat_template() const {
  return ChatTemplate::load(dir);
}

std::vector<int32_t> LoadedModel::encode_prompt(const std::string& text) const {
  if (!text.empty()) return tokenizer.encode(text);
  const int bos = model.config().bos_token_id;
  if (bos >= 0) return {bos};
  if (auto e = tokenizer.special_id("<|endoftext|>")) return {*e};
  throw UsageError("the prompt is empty and the model has no beginning-of-text token");
}

std::string escape_token(const std::string& b) {
  std::string out;
  size_t i = 0;
  while (i < b.size()) {
    const unsigned char c = (unsigned char)b[i];
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= b.size();
    for (size_t k = 1; ok && k < len; ++k) ok = ((unsigned char)b[i + k] & 0xC0) == 0x80;
    if (!ok || (len == 1 && (c < 0x20 || c == 0x7F))) {
      char buf[8];
      if (c == '\n')
        out += "\\n";
      else if (c == '\t')
        out += "\\t";
      else if (c == '\r')
        out += "\\r";
      else
        std::snprintf(buf, sizeof buf, "\\x%02X", c), out += buf;
      ++i;
      continue;
    }
    if (c == '\\')
      out += "\\\\";
    else
      out.append(b, i, len);
    i += len;
  }
  return out;
}

}  // namespace lmforge
