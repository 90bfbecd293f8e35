// PCRE2-based pre-tokenizer with invalid-UTF-8 runs split off as single bytes.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "lmforge/data/pretokenize.h"

#include <pcre2.h>

#include <algorithm>
#include <cstring>

#include "lmforge/core/error.h"
#include "lmforge/data/byte_level.h"

namespace lmforge {

const char* const kGpt2SplitRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kCl100kSplitRegex =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";

namespace {
// Unicode White_Space (PropList.txt), as a class body. PCRE2's UCP `\s` also takes U+180E,
// which Unicode dropped from White_Space in 6.3; tiktoken (Rust regex) follows White_Space.
constexpr const char* kWhiteSpaceBody =
    R"(\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
}  // namespace

std::string expand_whitespace_escapes(std::string_view re) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      char e = re[i + 1];
      ++i;
      if (e == 's') {
        out += in_class ? std::string(kWhiteSpaceBody) : "[" + std::string(kWhiteSpaceBody) + "]";
      } else if (e == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpaceBody) + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() {
    if (code) pcre2_code_free(code);
  }
};

PreTokenizer::PreTokenizer(std::string regex)
    : regex_(std::move(regex)), compiled_(std::make_unique<Compiled>()) {
  std::string expanded = expand_whitespace_escapes(regex_);
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(expanded.data()), expanded.size(),
                                  PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
  if (!compiled_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    throw RuntimeError("[pretokenize] split regex does not compile at offset " +
                       std::to_string(err_offset) + ": " + reinterpret_cast<char*>(msg));
  }
  // JIT makes matching several times faster; without it (unsupported CPU) PCRE2 interprets.
  pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);
}

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

namespace {

// Splits one valid UTF-8 run with the regex. Text the regex does not match is kept as pieces
// too (HF's Split "Isolated" behaviour), so nothing is lost with a user-supplied regex.
struct Sink {
  void (*fn)(void*, std::string_view);
  void* ctx;
  void push_back(std::string_view p) const { fn(ctx, p); }
};

void split_valid(pcre2_code* code, pcre2_match_data* md, std::string_view text,
                 const Sink& pieces) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const size_t n = text.size();
  size_t pos = 0;
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  while (pos < n) {
    int rc = pcre2_match(code, subject, n, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      pieces.push_back(text.substr(pos));
      return;
    }
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof(msg));
      throw RuntimeError(std::string("[pretokenize] regex match failed: ") +
                         reinterpret_cast<char*>(msg));
    }
    size_t s = ov[0], e = ov[1];
    if (s > pos) pieces.push_back(text.substr(pos, s - pos));
    if (e == s) {  // empty match: take one character so the loop advances
      if (s >= n) return;
      size_t len = std::max(1, utf8_valid_length(text, s));
      pieces.push_back(text.substr(s, len));
      e = s + len;
    } else {
      pieces.push_back(text.substr(s, e - s));
    }
    pos = e;
  }
}

// Index of the first byte at or after i that is not part of valid UTF-8.
size_t valid_prefix_end(std::string_view t, size_t i) {
  const size_t n = t.size();
  while (i < n) {
    // ASCII fast path: 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, t.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (static_cast<uint8_t>(t[i]) < 0x80) {
      ++i;
      continue;
    }
    int len = utf8_valid_length(t, i);
    if (len == 0) return i;
    i += len;
  }
  return n;
}

}  // namespace

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  for_each(text, [&](std::string_view p) { pieces.push_back(p); });
}

void PreTokenizer::for_each(std::string_view text, void (*fn)(void*, std::string_view),
                            void* ctx) const {
  const Sink pieces{fn, ctx};
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(compiled_->code, nullptr);
  if (!md) throw RuntimeError("[pretokenize] out of memory");
  try {
    size_t i = 0;
    while (i < text.size()) {
      size_t end = valid_prefix_end(text, i);
      if (end > i) split_valid(compiled_->code, md, text.substr(i, end - i), pieces);
      if (end < text.size()) pieces.push_back(text.substr(end, 1));  // one invalid byte
      i = end + 1;
    }
  } catch (...) {
    pcre2_match_data_free(md);
    throw;
  }
  pcre2_match_data_free(md);
}

}  // namespace lmforge
