// Pre-tokenization: splits text into the pieces that BPE encodes independently, with a split
// regex (GPT-2's or cl100k's) run by PCRE2 in UTF + UCP mode with JIT. Bytes that are not valid
// UTF-8 never reach PCRE2: each invalid byte becomes a piece of its own, so nothing is dropped and
// byte-level BPE still encodes it (every byte has a token).
// Not here: BPE merges (tokenizer.h), special-token splitting (done by the tokenizer).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge {

// The exact regexes of GPT-2 (encoder.py, HF ByteLevel) and of tiktoken's cl100k_base.
extern const char* const kGpt2SplitRegex;
extern const char* const kCl100kSplitRegex;

class PreTokenizer {
 public:
  // Compiles regex (as written in tokenizer.json). Throws RuntimeError with PCRE2's message and
  // offset if it does not compile. `\s` / `\S` are compiled as Unicode White_Space (the
  // definition Rust's regex crate uses, hence tiktoken and HF), not PCRE2's slightly wider one.
  explicit PreTokenizer(std::string regex);
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Appends the pieces of text, in order; their concatenation is exactly text. Thread-safe.
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;
  // Streams the pieces to fn(ctx, piece) instead of storing them (a 100 MB text would otherwise
  // need a piece array several times its size).
  void for_each(std::string_view text, void (*fn)(void* ctx, std::string_view piece),
                void* ctx) const;
  template <class F>
  void for_each(std::string_view text, F&& f) const {
    for_each(
        text, [](void* c, std::string_view p) { (*static_cast<F*>(c))(p); }, &f);
  }

  const std::string& regex() const { return regex_; }

 private:
  struct Compiled;
  std::string regex_;
  std::unique_ptr<Compiled> compiled_;
};

// Rewrites `\s`/`\S` in a regex to explicit Unicode White_Space classes (exposed for tests).
std::string expand_whitespace_escapes(std::string_view regex);

}  // namespace lmforge
