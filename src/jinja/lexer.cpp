// The Jinja lexer, following jinja2's own (lexer.py) with trim_blocks and lstrip_blocks on:
//  - newlines are normalized to "\n" and one trailing newline of the template is dropped;
//  - "{%-", "{{-", "{#-" strip all whitespace before the tag, "-%}", "-}}", "-#}" all after it;
//  - trim_blocks: the first newline after a block tag or comment is dropped ("+%}" keeps it);
//  - lstrip_blocks: spaces and tabs from the start of a line to a block tag or comment are
//    dropped ("{%+" keeps them), never before "{{";
//  - a tag ends only where its (), [], {} are balanced, so "{{ {'a': {'b': 1}} }}" lexes;
//  - {% raw %}...{% endraw %} becomes text; comments disappear.
// Not here: line statements, custom delimiters.
#include <algorithm>
#include <cstdlib>

#include "jinja/internal.h"

namespace lmforge::jinja {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

class Lexer {
 public:
  Lexer(std::string src, const std::string& origin) : s_(std::move(src)), origin_(origin) {
    for (size_t i = 0; i < s_.size(); ++i)
      if (s_[i] == '\n') newlines_.push_back(i);
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < s_.size()) {
      const size_t open = next_open(pos);
      if (open == std::string::npos) {
        emit_text(pos, s_.substr(pos));
        break;
      }
      const char kind = s_[open + 1];  // '{', '%' or '#'
      size_t after = open + 2;
      char sign = 0;
      if (after < s_.size() && (s_[after] == '-' || s_[after] == '+')) sign = s_[after++];
      size_t raw_end = 0;
      const bool raw = kind == '%' && match_raw_begin(after, raw_end);
      std::string text = s_.substr(pos, open - pos);
      strip_before(text, sign, kind != '{', line_starting);
      emit_text(pos, text);
      if (kind == '#') {
        pos = lex_comment(open, after, line_starting);
      } else if (raw) {
        pos = lex_raw(open, raw_end, line_starting);
      } else {
        pos = lex_tag(open, after, kind == '%', line_starting);
      }
    }
    tokens_.push_back(Token{Tok::kEof, "", line_at(s_.size()), 0, 0});
    return std::move(tokens_);
  }

 private:
  int line_at(size_t pos) const {
    return 1 + int(std::lower_bound(newlines_.begin(), newlines_.end(), pos) - newlines_.begin());
  }
  [[noreturn]] void error(size_t pos, const std::string& msg) const {
    throw InputError(origin_, line_at(pos), "chat_template", msg);
  }
  size_t next_open(size_t pos) const {
    for (size_t i = s_.find('{', pos); i != std::string::npos; i = s_.find('{', i + 1))
      if (i + 1 < s_.size() && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    return std::string::npos;
  }
  void emit_text(size_t pos, const std::string& text) {
    if (!text.empty()) tokens_.push_back(Token{Tok::kText, text, line_at(pos), 0, 0});
  }
  // jinja2's OptionalLStrip: "-" strips all trailing whitespace; otherwise lstrip_blocks drops
  // the spaces between the last newline (or a line start) and a block tag or comment.
  static void strip_before(std::string& text, char sign, bool block_or_comment,
                           bool line_starting) {
    if (sign == '-') {
      size_t e = text.size();
      while (e > 0 && is_ws(text[e - 1])) --e;
      text.resize(e);
    } else if (sign != '+' && block_or_comment) {
      const size_t nl = text.rfind('\n');
      const size_t l = nl == std::string::npos ? 0 : nl + 1;
      if ((l > 0 || line_starting) && l < text.size() &&
          std::all_of(text.begin() + long(l), text.end(), is_ws))
        text.resize(l);
    }
  }
  size_t skip_ws(size_t p) const {
    while (p < s_.size() && is_ws(s_[p])) ++p;
    return p;
  }
  bool word_at(size_t p, const char* w) const {
    const size_t n = std::char_traits<char>::length(w);
    return s_.compare(p, n, w) == 0 && (p + n >= s_.size() || !is_name_char(s_[p + n]));
  }
  // "{%[-+]? raw (-%}\s*|%})": the raw block's opener; raw_end receives the position after it.
  bool match_raw_begin(size_t after, size_t& raw_end) const {
    size_t p = skip_ws(after);
    if (!word_at(p, "raw")) return false;
    p = skip_ws(p + 3);
    if (s_.compare(p, 3, "-%}") == 0) {
      raw_end = skip_ws(p + 3);
      return true;
    }
    if (s_.compare(p, 2, "%}") == 0) {
      raw_end = p + 2;
      return true;
    }
    return false;
  }
  // The end of a block tag or comment at p ("+X}", "-X}" then whitespace, "X}" then one "\n").
  size_t block_end(size_t p, char c, bool& line_starting) const {
    size_t e;
    if (s_[p] == '+')
      e = p + 3;
    else if (s_[p] == '-')
      e = skip_ws(p + 3);
    else
      e = p + 2 + (p + 2 < s_.size() && s_[p + 2] == '\n' ? 1 : 0);
    (void)c;
    line_starting = e > 0 && s_[e - 1] == '\n';
    return e;
  }
  size_t lex_comment(size_t open, size_t after, bool& line_starting) {
    size_t q = s_.find("#}", after);
    if (q == std::string::npos) error(open, "Missing end of comment tag");
    size_t p = q;
    if (q > after && (s_[q - 1] == '-' || s_[q - 1] == '+')) p = q - 1;
    return block_end(p, '#', line_starting);
  }
  size_t lex_raw(size_t open, size_t body, bool& line_starting) {
    for (size_t i = s_.find("{%", body); i != std::string::npos; i = s_.find("{%", i + 1)) {
      size_t p = i + 2;
      char sign = 0;
      if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) sign = s_[p++];
      p = skip_ws(p);
      if (!word_at(p, "endraw")) continue;
      p = skip_ws(p + 6);
      if (!(s_.compare(p, 2, "%}") == 0 || s_.compare(p, 3, "-%}") == 0 ||
            s_.compare(p, 3, "+%}") == 0))
        continue;
      std::string text = s_.substr(body, i - body);
      strip_before(text, sign, true, false);
      emit_text(body, text);
      return block_end(p, '%', line_starting);
    }
    error(open, "Missing end of raw directive");
  }
  size_t lex_tag(size_t open, size_t p, bool block, bool& line_starting) {
    tokens_.push_back(Token{block ? Tok::kBlockBegin : Tok::kVarBegin, "", line_at(open), 0, 0});
    std::string stack;
    while (true) {
      if (p >= s_.size())
        error(open,
              std::string("unexpected end of template, expected '") + (block ? "%}" : "}}") + "'");
      if (stack.empty()) {
        if (block && (s_.compare(p, 2, "%}") == 0 || s_.compare(p, 3, "-%}") == 0 ||
                      s_.compare(p, 3, "+%}") == 0)) {
          tokens_.push_back(Token{Tok::kBlockEnd, "", line_at(p), 0, 0});
          return block_end(p, '%', line_starting);
        }
        if (!block && (s_.compare(p, 2, "}}") == 0 || s_.compare(p, 3, "-}}") == 0)) {
          tokens_.push_back(Token{Tok::kVarEnd, "", line_at(p), 0, 0});
          const size_t e = s_[p] == '-' ? skip_ws(p + 3) : p + 2;
          line_starting = s_[e - 1] == '\n';
          return e;
        }
      }
      const char c = s_[p];
      if (is_ws(c)) {
        p = skip_ws(p);
      } else if (is_digit(c)) {
        p = lex_number(p);
      } else if (is_name_start(c)) {
        size_t e = p;
        while (e < s_.size() && is_name_char(s_[e])) ++e;
        tokens_.push_back(Token{Tok::kName, s_.substr(p, e - p), line_at(p), 0, 0});
        p = e;
      } else if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else {
        static const char* const kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/",
                                           "*",  "%",  "~",  "[",  "]",  "(",  ")", "{", "}",
                                           ">",  "<",  "=",  ".",  ":",  "|",  ",", ";"};
        const char* op = nullptr;
        for (const char* o : kOps)
          if (s_.compare(p, std::char_traits<char>::length(o), o) == 0) {
            op = o;
            break;
          }
        if (!op) error(p, std::string("unexpected char '") + c + "'");
        const std::string o(op);
        if (o == "(" || o == "[" || o == "{") {
          stack += o == "(" ? ')' : o == "[" ? ']' : '}';
        } else if (o == ")" || o == "]" || o == "}") {
          if (stack.empty()) error(p, "unexpected '" + o + "'");
          if (stack.back() != o[0])
            error(p, "unexpected '" + o + "', expected '" + stack.back() + "'");
          stack.pop_back();
        }
        tokens_.push_back(Token{Tok::kOp, o, line_at(p), 0, 0});
        p += o.size();
      }
    }
  }
  size_t digits(size_t p) const {
    while (p < s_.size() &&
           (is_digit(s_[p]) || (s_[p] == '_' && p + 1 < s_.size() && is_digit(s_[p + 1]))))
      ++p;
    return p;
  }
  size_t lex_number(size_t p) {
    size_t e = digits(p);
    bool is_float = false;
    if (e + 1 < s_.size() && s_[e] == '.' && is_digit(s_[e + 1])) {
      e = digits(e + 1);
      is_float = true;
    }
    if (e < s_.size() && (s_[e] == 'e' || s_[e] == 'E')) {
      size_t x = e + 1;
      if (x < s_.size() && (s_[x] == '+' || s_[x] == '-')) ++x;
      if (x < s_.size() && is_digit(s_[x])) {
        e = digits(x);
        is_float = true;
      }
    }
    std::string t;
    for (size_t i = p; i < e; ++i)
      if (s_[i] != '_') t += s_[i];
    Token tok{is_float ? Tok::kFloat : Tok::kInt, t, line_at(p), 0, 0};
    if (is_float)
      tok.f = std::strtod(t.c_str(), nullptr);  // overflow gives inf, as Python's float()
    else
      try {
        tok.i = std::stoll(t);
      } catch (const std::exception&) {
        error(p, "integer literal out of range: " + t);
      }
    tokens_.push_back(tok);
    return e;
  }
  // Python's unicode-escape decoding of the literal's body, as jinja2 does.
  size_t lex_string(size_t p) {
    const char q = s_[p];
    std::string out;
    size_t i = p + 1;
    while (true) {
      if (i >= s_.size()) error(p, "unexpected end of string literal");
      const char c = s_[i];
      if (c == q) break;
      if (c != '\\' || i + 1 >= s_.size()) {
        out += c;
        ++i;
        continue;
      }
      const char e = s_[i + 1];
      i += 2;
      auto hex = [&](int n) {
        uint32_t v = 0;
        for (int k = 0; k < n; ++k, ++i) {
          const char h = i < s_.size() ? s_[i] : 0;
          const int d = is_digit(h)              ? h - '0'
                        : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                        : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                 : -1;
          if (d < 0) error(p, "truncated \\x/\\u/\\U escape in a string literal");
          v = v * 16 + uint32_t(d);
        }
        return v;
      };
      switch (e) {
        case '\n':
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
          append_utf8(out, hex(2));
          break;
        case 'u':
          append_utf8(out, hex(4));
          break;
        case 'U':
          append_utf8(out, hex(8));
          break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = uint32_t(e - '0');
            for (int k = 0; k < 2 && i < s_.size() && s_[i] >= '0' && s_[i] <= '7'; ++k, ++i)
              v = v * 8 + uint32_t(s_[i] - '0');
            append_utf8(out, v);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    tokens_.push_back(Token{Tok::kString, out, line_at(p), 0, 0});
    return i + 1;
  }

  std::string s_;
  const std::string& origin_;
  std::vector<size_t> newlines_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(std::string_view source, const std::string& origin) {
  std::string s;
  s.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      s += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      s += source[i];
    }
  }
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return Lexer(std::move(s), origin).run();
}

}  // namespace lmforge::jinja
