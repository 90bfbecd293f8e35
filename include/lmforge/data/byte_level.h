// GPT-2's byte-to-unicode table: every byte 0..255 maps to one printable Unicode character, so
// that byte-level BPE vocabularies can be stored as JSON strings (tokenizer.json, encoder.json).
// Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100..U+0143 in order.
// Not here: BPE itself (tokenizer.h) or any text normalization.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lmforge {

// The 256 bytes in GPT-2's vocabulary order: printable ASCII '!'..'~', then Latin-1 '¡'..'¬',
// '®'..'ÿ', then the remaining bytes by value. Trained vocabularies use this order for ids 0..255
// so they share GPT-2's first 256 tokens.
const std::array<uint8_t, 256>& byte_level_order();

// Unicode code point standing for byte b.
uint32_t byte_to_codepoint(uint8_t b);

// UTF-8 of the byte-level form of raw bytes ("hello world" -> "helloĠworld").
std::string bytes_to_byte_level(std::string_view bytes);

// Inverse of bytes_to_byte_level; nullopt when s holds a character outside the table or is not
// valid UTF-8.
std::optional<std::string> byte_level_to_bytes(std::string_view s);

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 when the byte at i does not
// start a valid, complete, shortest-form sequence (surrogates and > U+10FFFF are invalid).
int utf8_valid_length(std::string_view s, size_t i);

}  // namespace lmforge
