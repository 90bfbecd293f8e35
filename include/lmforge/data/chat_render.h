// The ChatML renderer shared by training and inference: a conversation becomes token ids AND the
// loss mask in one pass, so the mask is never guessed from strings afterwards.
//   <|im_start|>role\ncontent<|im_end|>\n   for a system or user message
//   <|im_start|>assistant\n content<|im_end|>\n   for an assistant message: one space first
//   <|im_start|>assistant\n                 appended when add_generation_prompt
// The space before a reply makes its first word the same token as that word inside a sentence
// (" word", the form byte-level BPE learns from running text), not a separate "word" token seen
// almost only at line starts: a reply that copies or recalls a word of the prompt or of the
// pretraining text continues the form the model knows (as Llama 2's template and SentencePiece's
// dummy prefix do). The model generates the space as part of its first token; callers strip it
// from the reply text (strip_reply_prefix).
// mask[i] = 1 marks a token the model learns to produce: the content of every assistant turn and
// the <|im_end|> that closes it (so a tuned model learns to stop). The headers, system and user
// turns and the "\n" after <|im_end|> are context (mask 0). The markers become single special ids
// when the tokenizer has them (else they are encoded as text, mask as above); each message's
// "role\ncontent" is encoded as one piece, as a Jinja ChatML template plus a HF tokenizer would,
// and a token straddling the header/content boundary counts as content.
// Not here: reading chat JSONL (datasets.h), other templates (infer/chat_template.h refuses them),
// adding missing chat tokens to a tokenizer (train/instruct.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lmforge/data/datasets.h"
#include "lmforge/data/tokenizer.h"

namespace lmforge {

// The Jinja source of the template, as written into tokenizer_config.json's chat_template.
extern const char* const kChatMlJinja;
// The template lmforge wrote before replies had their leading space (models tuned then are still
// recognized as ChatML and rendered the current way).
extern const char* const kChatMlJinjaV1;

// A message's content as the template writes it: an assistant reply gets its leading space.
std::string chat_content_text(const ChatMessage& m);
// A generated reply's text without the one leading space the template puts before a reply.
std::string strip_reply_prefix(const std::string& reply);

struct RenderedChat {
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;  // same length as ids; 1: a trained (assistant) token
};

RenderedChat render_chat(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                         bool add_generation_prompt);

// The same conversation as text (what the Jinja template produces).
std::string render_chat_text(const std::vector<ChatMessage>& messages, bool add_generation_prompt);

}  // namespace lmforge
