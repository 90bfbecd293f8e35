// Model directory loading for inference, and token escaping for display.
#include "lmforge/infer/loaded_model.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace lmforge {
namespace {

// A LoRA run's final/ without --merge holds only the PEFT adapter (adapter_config.json naming
// its base model) and the tokenizer: load the base and attach the adapter. It stays unmerged:
// the one forward (model/block.h) applies it at every step, in inference as in training, so the
// base weights are never rewritten (the merged model computes the same logits up to rounding).
Transformer load_weights(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (fs::exists(dir / "config.json") || !LoraAdapters::present(dir)) return Transformer::load(dir);
  const fs::path cfg = dir / "adapter_config.json";
  auto j = nlohmann::json::parse(read_file(cfg), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("base_model_name_or_path") ||
      !j["base_model_name_or_path"].is_string() ||
      j["base_model_name_or_path"].get<std::string>().empty())
    throw InputError(cfg.string(), 0, "base_model_name_or_path",
                     "a LoRA adapter directory must name its base model directory",
                     "merge it with the run's --merge, or lmforge export --format hf");
  fs::path base = j["base_model_name_or_path"].get<std::string>();
  if (base.is_relative()) base = dir / base;
  if (!fs::exists(base / "config.json"))
    throw InputError(cfg.string(), 0, "base_model_name_or_path",
                     "base model '" + base.string() + "' not found (no config.json)",
                     "point it at the model the adapter was trained on");
  std::fprintf(stderr, "loading LoRA adapter %s on base model %s (applied unmerged)\n", dir.c_str(),
               base.c_str());
  Transformer model = Transformer::load(base);
  model.load_lora(dir);
  return model;
}

}  // namespace

std::unique_ptr<LoadedModel> LoadedModel::load(const std::filesystem::path& dir) {
  Transformer model = load_weights(dir);
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
