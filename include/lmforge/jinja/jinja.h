// A Jinja2 subset interpreter for Hugging Face chat templates, written for lmforge (no third-party
// source); a layer of its own (src/jinja/) under infer, which renders chat templates with it. It
// behaves as transformers' `apply_chat_template` environment does: jinja2 with trim_blocks,
// lstrip_blocks and the loopcontrols extension, an immutable sandbox (lists and dicts cannot be
// changed; use namespace() objects), the globals raise_exception(msg), strftime_now(fmt), range,
// namespace, dict, and tojson overridden by json.dumps(ensure_ascii=False). docs/CHAT_TEMPLATES.md
// lists the statements, filters, tests and methods supported.
//
// Provenance: every string value knows which of its bytes came from "content" (strings the caller
// marks, e.g. every string in `messages`), and the mark survives concatenation, joins, slicing
// and trimming (other string operations mark their whole result when any input was marked). The
// rendered text carries the marked byte ranges, so a caller can treat template text as markup and
// content as data (infer/chat_template.h turns markers into special ids, content never).
//
// Not here: template inheritance (extends/include/import), call blocks, autoescaping, recursive
// loops, line statements; Python's full Unicode case tables (upper/lower/title map ASCII,
// Latin-1, Latin Extended-A, Greek and Cyrillic; other letters are left as they are).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lmforge/core/error.h"

namespace lmforge::jinja {

// A byte range [begin, end) of a string.
struct Span {
  size_t begin = 0, end = 0;
  bool operator==(const Span&) const = default;
};

class Value;

// A string with the byte ranges that came from content (sorted, disjoint, non-adjacent).
struct StrData {
  std::string text;
  std::vector<Span> content;
};

struct ListData {
  std::vector<Value> items;
  bool tuple = false;  // prints as (a, b)
};

// Insertion-ordered mapping (Python dict). A namespace() object is a dict whose attributes can be
// assigned with {% set ns.x = ... %}.
struct DictData {
  std::vector<std::pair<Value, Value>> items;
  bool is_namespace = false;
  const Value* find(const Value& key) const;
  void set(Value key, Value value);
};

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};
using Function = std::function<Value(CallArgs&)>;

// A template value: Jinja's Undefined, None, bool, int, float, str, list/tuple, dict, callable.
// Lists and dicts are shared (Python reference semantics); strings are immutable.
class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };

  Value() = default;                         // Undefined
  static Value undefined(std::string hint);  // hint: "'x' is undefined" for error messages
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  // from_content marks every byte of s as content.
  static Value string(std::string s, bool from_content = false);
  static Value string(StrData s);
  static Value list(std::vector<Value> items, bool tuple = false);
  static Value dict(std::vector<std::pair<std::string, Value>> items = {});
  static Value function(std::string name, Function f);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_function() const { return kind_ == Kind::kFunction; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return is_bool() ? int64_t(b_) : i_; }
  double as_float() const { return is_float() ? f_ : double(as_int()); }
  const std::string& text() const;           // a string's text ("" for other kinds)
  const std::vector<Span>& content() const;  // a string's content ranges
  const StrData& str() const { return *s_; }
  ListData& list_data() const { return *l_; }
  DictData& dict_data() const { return *m_; }
  const std::string& function_name() const { return name_; }
  Value call(CallArgs& args) const { return (*fn_)(args); }
  const std::string& undefined_hint() const { return name_; }

  // Builds a dict: adds or replaces key.
  Value& set(std::string key, Value v);

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string name_;  // function name, or the undefined value's hint
  std::shared_ptr<const StrData> s_;
  std::shared_ptr<ListData> l_;
  std::shared_ptr<DictData> m_;
  std::shared_ptr<const Function> fn_;
};

// One run of output text that is all template markup (from_content false) or all content.
struct Segment {
  std::string text;
  bool from_content = false;
  bool operator==(const Segment&) const = default;
};

struct Rendered {
  std::string text;
  std::vector<Span> content;  // byte ranges of text that came from content
  // text cut into maximal runs of the same kind, in order.
  std::vector<Segment> segments() const;
};

// raise_exception(msg) called by a template: the template refuses the input it was given (for a
// chat template, the conversation). A UsageError (exit 2; HTTP 400 in serve).
class RaisedError : public UsageError {
 public:
  RaisedError(const std::string& origin, int64_t line, const std::string& msg);
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

struct Program;

class Template {
 public:
  // Parses source; throws InputError(origin, line, field "chat_template", message) on a syntax
  // error. origin names the template's file in errors.
  static Template parse(std::string_view source, std::string origin = "chat_template");
  // Renders with vars (a dict value) as the template's variables, on top of the globals. Throws
  // InputError(origin, line, ...) for a render error (undefined attribute, type error, unknown
  // filter...) and RaisedError for raise_exception.
  Rendered render(const Value& vars) const;

 private:
  std::shared_ptr<const Program> program_;
  std::string origin_;
};

// A JSON document as a value (objects keep their key order); from_content marks every string in
// it (keys too) as content. Throws InputError("json", ...) for invalid JSON.
Value parse_json(std::string_view json, bool from_content);

// Python's str(v) (what {{ v }} prints) and repr(v); json.dumps as transformers' tojson calls it
// (indent < 0: none; separators empty: Python's defaults).
std::string to_str(const Value& v);
std::string to_repr(const Value& v);
std::string to_json(const Value& v, bool ensure_ascii, int indent, const std::string& item_sep,
                    const std::string& key_sep, bool sort_keys);

}  // namespace lmforge::jinja
