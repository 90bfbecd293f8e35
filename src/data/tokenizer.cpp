// Tokenizer's public API: encoding (ordinary and with special tokens), decoding, lookups and the
// content hash. Not here: BPE merging (bpe.cpp), file formats (tokenizer_io.cpp), training.
#include <cstdio>

#include "data/tokenizer_impl.h"
#include "lmforge/core/error.h"

namespace lmforge {

const char* const kChatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";

void Tokenizer::Impl::finalize(const std::string& source) {
  const int32_t V = static_cast<int32_t>(vocab.size());
  is_special.assign(V, false);
  for (auto& [text, id] : specials) {
    if (id < 0 || id >= V)
      throw InputError(source, 0, "added_tokens",
                       "special token id " + std::to_string(id) + " is outside the vocabulary of " +
                           std::to_string(V));
    if (text.empty()) throw InputError(source, 0, "added_tokens", "empty special token");
    is_special[id] = true;
  }
  byte_id.fill(-1);
  for (int32_t id = 0; id < V; ++id) {
    if (vocab[id].size() == 1 && !is_special[id]) {
      int32_t& slot = byte_id[static_cast<uint8_t>(vocab[id][0])];
      if (slot < 0) slot = id;
    }
  }
  for (int b = 0; b < 256; ++b) {
    if (byte_id[b] < 0) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", b);
      throw InputError(source, 0, "model.vocab", std::string("no token for byte ") + hex,
                       "a byte-level BPE vocabulary needs all 256 single-byte tokens");
    }
  }
  merge_table.build(merges, merged_ids);
  token_table.build(vocab, is_special);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  impl_->encode_ordinary(text, out);
  return out;
}

void Tokenizer::encode_append(std::string_view text, std::vector<int32_t>& out) const {
  impl_->encode_ordinary(text, out);
}

std::vector<int32_t> Tokenizer::encode_with_special(std::string_view text) const {
  std::vector<int32_t> out;
  const auto& specials = impl_->specials;
  size_t pos = 0;
  while (pos < text.size()) {
    // Earliest occurrence of any special token; the longest one wins at the same position (so
    // "<|im_start|>" is not cut short by a special that is its prefix).
    size_t best = std::string_view::npos, best_len = 0;
    int32_t best_id = -1;
    for (const auto& [s, id] : specials) {
      size_t f = text.find(s, pos);
      if (f == std::string_view::npos) continue;
      if (f < best || (f == best && s.size() > best_len)) {
        best = f;
        best_len = s.size();
        best_id = id;
      }
    }
    if (best == std::string_view::npos) {
      impl_->encode_ordinary(text.substr(pos), out);
      break;
    }
    impl_->encode_ordinary(text.substr(pos, best - pos), out);
    out.push_back(best_id);
    pos = best + best_len;
  }
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += token_bytes(id);
  return out;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= vocab_size())
    throw RuntimeError("[tokenizer] token id " + std::to_string(id) +
                       " is outside the vocabulary (size " + std::to_string(vocab_size()) + ")");
  return impl_->vocab[id];
}

int32_t Tokenizer::vocab_size() const {
  return static_cast<int32_t>(impl_->vocab.size());
}

std::optional<int32_t> Tokenizer::special_id(std::string_view token) const {
  for (const auto& [s, id] : impl_->specials)
    if (s == token) return id;
  return std::nullopt;
}

int32_t Tokenizer::eot_id() const {
  auto id = special_id("<|endoftext|>");
  if (!id) throw RuntimeError("[tokenizer] the vocabulary has no <|endoftext|> special token");
  return *id;
}

std::vector<std::string> Tokenizer::special_tokens() const {
  std::vector<std::string> out;
  for (const auto& [s, id] : impl_->specials) out.push_back(s);
  return out;
}

SplitPattern Tokenizer::split_pattern() const {
  return impl_->pretokenizer.regex() == kGpt2SplitRegex ? SplitPattern::kGpt2
                                                        : SplitPattern::kCl100k;
}

const std::string& Tokenizer::split_regex() const {
  return impl_->pretokenizer.regex();
}

std::string Tokenizer::content_hash() const {
  // Two FNV-1a 64-bit streams with different offsets over a length-prefixed serialization: a
  // 128-bit fingerprint, stable across platforms and builds (no std::hash).
  uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
  auto feed = [&](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h1 = (h1 ^ p[i]) * 0x100000001b3ull;
      h2 = (h2 ^ p[i]) * 0x100000001b3ull;
      h2 ^= h2 >> 29;
    }
  };
  auto feed_u64 = [&](uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    feed(b, 8);
  };
  auto feed_str = [&](std::string_view s) {
    feed_u64(s.size());
    feed(s.data(), s.size());
  };
  feed_str("lmforge-bpe-v1");
  feed_str(impl_->pretokenizer.regex());
  feed_u64(impl_->vocab.size());
  for (const auto& t : impl_->vocab) feed_str(t);
  feed_u64(impl_->merges.size());
  for (size_t r = 0; r < impl_->merges.size(); ++r) {
    feed_u64(static_cast<uint32_t>(impl_->merges[r].first));
    feed_u64(static_cast<uint32_t>(impl_->merges[r].second));
    feed_u64(static_cast<uint32_t>(impl_->merged_ids[r]));
  }
  feed_u64(impl_->specials.size());
  for (const auto& [s, id] : impl_->specials) {
    feed_str(s);
    feed_u64(static_cast<uint32_t>(id));
  }
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(h1),
                static_cast<unsigned long long>(h2));
  return buf;
}

}  // namespace lmforge
