// GPT-2 byte-to-unicode table and a strict UTF-8 validator.
#include "lmforge/data/byte_level.h"

#include <vector>

namespace lmforge {
namespace {

struct Tables {
  std::array<uint8_t, 256> order{};
  std::array<uint32_t, 256> cp{};
  std::vector<int16_t> inverse;  // code point -> byte, -1 when unmapped (code points < 0x144)
  Tables() {
    int k = 0;
    std::array<bool, 256> printable{};
    auto add_range = [&](int lo, int hi) {
      for (int b = lo; b <= hi; ++b) {
        printable[b] = true;
        order[k++] = static_cast<uint8_t>(b);
        cp[b] = static_cast<uint32_t>(b);
      }
    };
    add_range('!', '~');
    add_range(0xA1, 0xAC);
    add_range(0xAE, 0xFF);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      if (printable[b]) continue;
      order[k++] = static_cast<uint8_t>(b);
      cp[b] = static_cast<uint32_t>(256 + n++);
    }
    inverse.assign(256 + n, -1);
    for (int b = 0; b < 256; ++b) inverse[cp[b]] = static_cast<int16_t>(b);
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

void append_utf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    // The table only reaches U+0143, so two bytes always suffice; kept general for safety.
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace

const std::array<uint8_t, 256>& byte_level_order() {
  return tables().order;
}

uint32_t byte_to_codepoint(uint8_t b) {
  return tables().cp[b];
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  const auto& cp = tables().cp;
  for (char ch : bytes) append_utf8(out, cp[static_cast<uint8_t>(ch)]);
  return out;
}

std::optional<std::string> byte_level_to_bytes(std::string_view s) {
  const auto& inv = tables().inverse;
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    int len = utf8_valid_length(s, i);
    if (len == 0) return std::nullopt;
    uint32_t c;
    auto u = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
    if (len == 1) {
      c = u(0);
    } else if (len == 2) {
      c = ((u(0) & 0x1F) << 6) | (u(1) & 0x3F);
    } else {
      return std::nullopt;  // 3- and 4-byte characters are never in the table
    }
    if (c >= inv.size() || inv[c] < 0) return std::nullopt;
    out += static_cast<char>(inv[c]);
    i += len;
  }
  return out;
}

int utf8_valid_length(std::string_view s, size_t i) {
  const size_t n = s.size();
  auto u = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = u(i);
  if (c < 0x80) return 1;
  auto cont = [&](size_t k) { return k < n && (u(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    uint8_t c1 = u(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    uint8_t c1 = u(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace lmforge
