// Byte-level BPE tokenizer (GPT-2 family): pre-tokenization by a split regex (GPT-2's or
// cl100k's), then BPE merges by rank over byte-level symbols. Loads HF tokenizer.json or GPT-2's
// encoder.json + vocab.bpe; writes HF tokenizer.json + tokenizer_config.json. Encodes exactly as
// tiktoken / HF `tokenizers` do for the same vocabulary. Thread-safe for concurrent encode().
// Not here: training (tokenizer_train.h), SentencePiece/WordPiece models.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge {

enum class SplitPattern { kGpt2, kCl100k };

class Tokenizer {
 public:
  // Loads from a directory holding tokenizer.json (a model directory too), or GPT-2's
  // encoder.json + vocab.bpe. Throws InputError naming the file and field on bad input.
  static Tokenizer load(const std::filesystem::path& dir);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Ordinary text: special-token strings inside `text` are encoded as plain text.
  std::vector<int32_t> encode(std::string_view text) const;
  // Recognizes the registered special tokens (e.g. "<|endoftext|>") as single ids.
  std::vector<int32_t> encode_with_special(std::string_view text) const;
  // Appends the ordinary encoding of text to out (no allocation of a fresh vector).
  void encode_append(std::string_view text, std::vector<int32_t>& out) const;

  // Concatenated bytes of the tokens (may be invalid UTF-8 for a partial sequence).
  std::string decode(std::span<const int32_t> ids) const;
  // Raw bytes of one token. Throws RuntimeError for an id out of range.
  const std::string& token_bytes(int32_t id) const;

  int32_t vocab_size() const;
  // Id of a special token such as "<|endoftext|>", "<|im_start|>", "<|im_end|>".
  std::optional<int32_t> special_id(std::string_view token) const;
  // Id of "<|endoftext|>"; throws RuntimeError if the vocabulary has none.
  int32_t eot_id() const;
  std::vector<std::string> special_tokens() const;
  // kGpt2 when the split regex is exactly GPT-2's, else kCl100k (a loaded tokenizer.json may
  // carry another regex, which is used as written; split_regex() returns it).
  SplitPattern split_pattern() const;
  const std::string& split_regex() const;

  // Stable hex digest of vocabulary, merges, specials and split pattern: shards record it so a
  // mismatched tokenizer is detected.
  std::string content_hash() const;

  // Writes dir/tokenizer.json and dir/tokenizer_config.json atomically (HF format).
  void save(const std::filesystem::path& dir) const;

  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmforge
