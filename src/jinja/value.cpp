// Template values with Python semantics: construction, truth, equality and ordering, float repr,
// strings that carry their content spans, and the UTF-8 and case helpers the string filters use.
// Not here: str()/repr()/JSON (jinja_json.cpp), attribute lookup and builtins.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "jinja/internal.h"

namespace lmforge::jinja {

void fail(const std::string& message) {
  throw EvalError{message};
}

// ---- Value ----
Value Value::undefined(std::string hint) {
  Value v;
  v.name_ = std::move(hint);
  return v;
}
Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.b_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.i_ = i;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.f_ = d;
  return v;
}
Value Value::string(std::string s, bool from_content) {
  StrData d;
  if (from_content && !s.empty()) d.content.push_back({0, s.size()});
  d.text = std::move(s);
  return string(std::move(d));
}
Value Value::string(StrData s) {
  Value v;
  v.kind_ = Kind::kString;
  v.s_ = std::make_shared<const StrData>(std::move(s));
  return v;
}
Value Value::list(std::vector<Value> items, bool tuple) {
  Value v;
  v.kind_ = Kind::kList;
  v.l_ = std::make_shared<ListData>(ListData{std::move(items), tuple});
  return v;
}
Value Value::dict(std::vector<std::pair<std::string, Value>> items) {
  Value v;
  v.kind_ = Kind::kDict;
  v.m_ = std::make_shared<DictData>();
  for (auto& [k, x] : items) v.m_->set(string(k), std::move(x));
  return v;
}
Value Value::function(std::string name, Function f) {
  Value v;
  v.kind_ = Kind::kFunction;
  v.name_ = std::move(name);
  v.fn_ = std::make_shared<const Function>(std::move(f));
  return v;
}

const std::string& Value::text() const {
  static const std::string empty;
  return s_ ? s_->text : empty;
}
const std::vector<Span>& Value::content() const {
  static const std::vector<Span> none;
  return s_ ? s_->content : none;
}
Value& Value::set(std::string key, Value v) {
  m_->set(string(std::move(key)), std::move(v));
  return *this;
}

const Value* DictData::find(const Value& key) const {
  for (const auto& [k, v] : items)
    if (equal(k, key)) return &v;
  return nullptr;
}
void DictData::set(Value key, Value value) {
  for (auto& [k, v] : items)
    if (equal(k, key)) {
      v = std::move(value);
      return;
    }
  items.emplace_back(std::move(key), std::move(value));
}

std::vector<Segment> Rendered::segments() const {
  std::vector<Segment> out;
  auto add = [&](size_t b, size_t e, bool c) {
    if (b < e) out.push_back({text.substr(b, e - b), c});
  };
  size_t at = 0;
  for (const Span& s : content) {
    add(at, s.begin, false);
    add(s.begin, s.end, true);
    at = s.end;
  }
  add(at, text.size(), false);
  return out;
}

RaisedError::RaisedError(const std::string& origin, int64_t line, const std::string& msg)
    : UsageError(origin + ":" + std::to_string(line) +
                 ": the chat template refused the input: " + msg),
      message_(msg) {}

// ---- Python semantics ----
bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return false;
    case Value::Kind::kBool:
      return v.as_bool();
    case Value::Kind::kInt:
      return v.as_int() != 0;
    case Value::Kind::kFloat:
      return v.as_float() != 0.0;
    case Value::Kind::kString:
      return !v.text().empty();
    case Value::Kind::kList:
      return !v.list_data().items.empty();
    case Value::Kind::kDict:
      return !v.dict_data().items.empty();
    case Value::Kind::kFunction:
      return true;
  }
  return false;
}

bool equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
      return a.text() == b.text();
    case Value::Kind::kList: {
      const auto &x = a.list_data().items, &y = b.list_data().items;
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equal(x[i], y[i])) return false;
      return true;
    }
    case Value::Kind::kDict: {
      const auto &x = a.dict_data(), &y = b.dict_data();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* o = y.find(k);
        if (!o || !equal(v, *o)) return false;
      }
      return true;
    }
    case Value::Kind::kFunction:
      return &a.function_name() == &b.function_name();
    default:
      return false;
  }
}

int compare(const Value& a, const Value& b, const char* op) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.as_float(), y = b.as_float();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.text().compare(b.text());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const auto &x = a.list_data().items, &y = b.list_data().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!equal(x[i], y[i])) return compare(x[i], y[i], op);
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  if (a.is_undefined() || b.is_undefined()) fail((a.is_undefined() ? a : b).undefined_hint());
  fail(std::string("'") + op + "' not supported between instances of '" + type_name(a) + "' and '" +
       type_name(b) + "'");
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "Undefined";
    case Value::Kind::kNone:
      return "NoneType";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return "str";
    case Value::Kind::kList:
      return v.list_data().tuple ? "tuple" : "list";
    case Value::Kind::kDict:
      return v.dict_data().is_namespace ? "Namespace" : "dict";
    case Value::Kind::kFunction:
      return "function";
  }
  return "object";
}

// Python's repr(float): the shortest round-trip digits, fixed notation for exponents in [-4, 16),
// scientific with a two-digit exponent otherwise, and always a ".0" or an exponent.
std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  const size_t e = s.find('e');
  const int exp = std::stoi(s.substr(e + 1));
  std::string mant = s.substr(0, e), sign;
  if (mant[0] == '-') sign = "-", mant = mant.substr(1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  if (exp >= -4 && exp < 16) {
    std::string out;
    if (exp < 0) {
      out = "0." + std::string(size_t(-exp - 1), '0') + digits;
    } else if (size_t(exp) + 1 >= digits.size()) {
      out = digits + std::string(size_t(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, size_t(exp) + 1) + "." + digits.substr(size_t(exp) + 1);
    }
    return sign + out;
  }
  std::string out = digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char eb[16];
  std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  return sign + out + eb;
}

// ---- strings with spans ----
void StrBuilder::append_spanned(const StrData& s) {
  const size_t off = out_.text.size();
  out_.text += s.text;
  for (const Span& sp : s.content) {
    if (!out_.content.empty() && out_.content.back().end == sp.begin + off)
      out_.content.back().end = sp.end + off;
    else
      out_.content.push_back({sp.begin + off, sp.end + off});
  }
}
void StrBuilder::append(const Value& s) {
  if (s.is_string())
    append_spanned(s.str());
  else
    append(to_str(s));
}
void StrBuilder::append(std::string_view text, bool from_content) {
  StrData d{std::string(text), {}};
  if (from_content && !text.empty()) d.content.push_back({0, text.size()});
  append_spanned(d);
}
Value StrBuilder::build() {
  return Value::string(take());
}
StrData StrBuilder::take() {
  StrData d = std::move(out_);
  out_ = {};
  return d;
}

StrData substr(const StrData& s, size_t b, size_t e) {
  StrData out{s.text.substr(b, e - b), {}};
  for (const Span& sp : s.content) {
    const size_t x = std::max(sp.begin, b), y = std::min(sp.end, e);
    if (x < y) out.content.push_back({x - b, y - b});
  }
  return out;
}

Value as_string(const Value& v) {
  return v.is_string() ? v : Value::string(to_str(v));
}

bool has_content(const Value& v) {
  if (v.is_string()) return !v.content().empty();
  if (v.is_list())
    return std::any_of(v.list_data().items.begin(), v.list_data().items.end(), has_content);
  if (v.is_dict())
    for (const auto& [k, x] : v.dict_data().items)
      if (has_content(k) || has_content(x)) return true;
  return false;
}

Value derived(std::string text, std::initializer_list<const Value*> inputs) {
  bool c = false;
  for (const Value* v : inputs) c = c || has_content(*v);
  return Value::string(std::move(text), c);
}

// ---- UTF-8 ----
uint32_t decode_at(std::string_view s, size_t& i) {
  const unsigned char c = (unsigned char)s[i];
  int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  if (i + size_t(n) > s.size()) n = 1;
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < n; ++k) cp = (cp << 6) | ((unsigned char)s[i + size_t(k)] & 0x3F);
  i += size_t(n);
  return cp;
}

std::vector<size_t> code_points(std::string_view s) {
  std::vector<size_t> at;
  for (size_t i = 0; i < s.size();) {
    at.push_back(i);
    decode_at(s, i);
  }
  at.push_back(s.size());
  return at;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool py_isspace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

namespace {

// Simple one-to-one case pairs: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic.
uint32_t to_upper_cp(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if (c == 0x17F) return 'S';
  if (c == 0x131) return 'I';
  if (c >= 0x100 && c <= 0x17F && c != 0x131 && c != 0x138 && c != 0x149) {
    const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper ? (c % 2 == 0) : (c % 2 == 1)) return c - 1;
    return c;
  }
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c == 0x3C2) return 0x3A3;
  if (c >= 0x3AC && c <= 0x3AF) return c == 0x3AC ? 0x386 : c - 37;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}
uint32_t to_lower_cp(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x138 && c != 0x149 && c != 0x178) {
    const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper ? (c % 2 == 1) : (c % 2 == 0)) return c + 1;
    return c;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

}  // namespace

bool is_upper_cp(uint32_t cp) {
  return to_lower_cp(cp) != cp;
}
bool is_lower_cp(uint32_t cp) {
  return to_upper_cp(cp) != cp || cp == 0xDF;
}

std::string py_upper(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = decode_at(s, i);
    if (cp == 0xDF)
      out += "SS";  // ß has no one-letter capital in Python's str.upper
    else
      append_utf8(out, to_upper_cp(cp));
  }
  return out;
}

std::string py_lower(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) append_utf8(out, to_lower_cp(decode_at(s, i)));
  return out;
}

}  // namespace lmforge::jinja
