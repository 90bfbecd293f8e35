// What every "use the model" command needs, loaded once from a model directory: the weights,
// the tokenizer, the inference forward over them, the chat template, and the ids that end a
// generation. Not here: sampling or generation loops (generate.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lmforge/data/tokenizer.h"
#include "lmforge/infer/chat_template.h"
#include "lmforge/infer/engine.h"
#include "lmforge/model/transformer.h"

namespace lmforge {

struct LoadedModel {
  std::string name;  // the directory's last component: the server's model id
  Transformer model;
  Tokenizer tokenizer;
  std::unique_ptr<InferenceModel> infer;  // borrows model's parameters
  std::vector<int32_t> eos_ids;           // config eos_token_id and "<|endoftext|>" when present
  // The chat template is read lazily by chat(): a model with an unsupported template can still
  // predict and generate.
  ChatTemplate chat_template() const;
  std::filesystem::path dir;

  // Throws InputError when the directory lacks the model or tokenizer files, and checks that
  // the tokenizer's vocabulary fits the model's.
  static std::unique_ptr<LoadedModel> load(const std::filesystem::path& dir);
  // Ordinary-text encoding; an empty text gives the beginning-of-text id (bos, else eot) so that
  // generation from nothing works.
  std::vector<int32_t> encode_prompt(const std::string& text) const;
};

// Printable form of token bytes for tables: \n, \t, \\, quotes and control or invalid bytes as
// escapes (\xNN); valid UTF-8 stays as it is.
std::string escape_token(const std::string& bytes);

}  // namespace lmforge
