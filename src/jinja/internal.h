// Internals of the Jinja subset interpreter (jinja/jinja.h) shared by its source files: tokens,
// the syntax tree, and the Python-semantics helpers (truth, equality, strings with content spans,
// UTF-8 code points) that the evaluator and the builtins use. Not a public API.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lmforge/jinja/jinja.h"

namespace lmforge::jinja {

// ---- errors inside evaluation: message only; the evaluator adds origin and line ----
struct EvalError {
  std::string message;
};
[[noreturn]] void fail(const std::string& message);

// ---- tokens (jinja_lexer.cpp) ----
enum class Tok {
  kText,
  kVarBegin,
  kVarEnd,
  kBlockBegin,
  kBlockEnd,
  kName,
  kString,
  kInt,
  kFloat,
  kOp,
  kEof
};
struct Token {
  Tok type = Tok::kEof;
  std::string text;  // text data, name, operator, or the unescaped string literal
  int line = 1;
  int64_t i = 0;
  double f = 0;
};
// Newlines normalized, one trailing newline dropped, trim_blocks/lstrip_blocks/-/+ applied,
// comments dropped, raw blocks turned into text. Throws InputError(origin, line, ...).
std::vector<Token> lex(std::string_view source, const std::string& origin);

// ---- syntax tree (jinja_parser.cpp) ----
struct Expr;
using ExprP = std::unique_ptr<Expr>;
struct Expr {
  enum Kind {
    kConst,
    kName,
    kAttr,
    kItem,
    kSlice,
    kCall,
    kFilter,
    kTest,
    kNeg,
    kPos,
    kNot,
    kBin,
    kAnd,
    kOr,
    kCompare,
    kCond,
    kList,
    kTuple,
    kDict,
    kConcat
  };
  Kind kind = kConst;
  int line = 0;
  Value value;              // kConst
  std::string name;         // kName; kAttr's attribute; kFilter/kTest name; kBin operator
  std::vector<ExprP> args;  // operands (see the parser for each kind's layout; may hold null)
  std::vector<std::pair<std::string, ExprP>> kwargs;
  std::vector<std::string> ops;  // kCompare: operator before each operand after the first
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;
struct Stmt {
  enum Kind {
    kText,
    kOutput,
    kIf,
    kFor,
    kSet,
    kSetAttr,
    kSetBlock,
    kMacro,
    kBreak,
    kContinue,
    kScope
  };
  Kind kind = kText;
  int line = 0;
  std::string text;                  // kText
  ExprP expr;                        // kOutput; kFor iterable; kSet/kSetAttr value
  std::vector<std::string> targets;  // kFor/kSet names; kSetAttr {ns, attr}; kMacro {name}
  bool unpack = false;               // targets written as a tuple
  ExprP cond;                        // kFor: `if` filter
  std::vector<std::pair<ExprP, Body>> branches;  // kIf: if + elifs
  Body body, else_body;                          // kFor/kScope/kSetBlock/kMacro body; kIf/kFor else
  ExprP filter;                     // kSetBlock: optional filter chain (kFilter on a null subject)
  std::vector<std::string> params;  // kMacro
  std::vector<ExprP> defaults;      // kMacro: defaults for the last params
};

struct Program {
  Body body;
};
std::shared_ptr<Program> parse_tokens(std::vector<Token> tokens, const std::string& origin);

// ---- Python semantics (jinja_value.cpp) ----
bool truthy(const Value& v);
bool equal(const Value& a, const Value& b);
// -1, 0, 1; fails for kinds Python cannot order.
int compare(const Value& a, const Value& b, const char* op);
std::string type_name(const Value& v);
std::string float_repr(double d);

// Strings with content spans.
class StrBuilder {
 public:
  void append(const Value& s);  // a string value: its text and spans
  void append(std::string_view text, bool from_content = false);
  void append_spanned(const StrData& s);
  Value build();
  StrData take();
  bool empty() const { return out_.text.empty(); }

 private:
  StrData out_;
};
// Bytes [b, e) of s with their spans.
StrData substr(const StrData& s, size_t b, size_t e);
// The string form of v for concatenation: strings keep spans, others are str(v).
Value as_string(const Value& v);
// A new string from text, marked wholly as content when any input had content.
Value derived(std::string text, std::initializer_list<const Value*> inputs);
bool has_content(const Value& v);

// UTF-8: byte offsets of each code point, plus the end.
std::vector<size_t> code_points(std::string_view s);
uint32_t decode_at(std::string_view s, size_t& i);
void append_utf8(std::string& out, uint32_t cp);
bool py_isspace(uint32_t cp);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
bool is_upper_cp(uint32_t cp);
bool is_lower_cp(uint32_t cp);

// ---- builtins (jinja_builtins.cpp) ----
// raise_exception(msg): the evaluator turns it into RaisedError with the template line.
struct Raised {
  std::string message;
};
Value call_filter(const std::string& name, const Value& subject, CallArgs& args);
bool has_filter(const std::string& name);
bool call_test(const std::string& name, const Value& subject, CallArgs& args);
bool has_test(const std::string& name);
// obj.name: dict keys, then methods of str/dict/list; Undefined when absent.
Value get_attr(const Value& obj, const std::string& name);
// obj[key]: dict key, list/str index; Undefined when absent.
Value get_item(const Value& obj, const Value& key);
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
void add_globals(Value& globals);
// Python's list(v) for iteration: list items, dict keys, string characters; fails otherwise.
std::vector<Value> iterate(const Value& v);

}  // namespace lmforge::jinja
