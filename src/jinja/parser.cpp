// The Jinja parser: tokens to the syntax tree, with jinja2's grammar and precedence (parser.py):
//   condexpr: or ('if' or ('else' condexpr)?)*     or: and ('or' and)*     and: not ('and' not)*
//   not: 'not' not | compare                        compare: math1 ((== != < > <= >= in, not in)
//   math1)* math1: concat ((+ -) concat)*                   concat: math2 ('~' math2)* math2: pow
//   ((* / // %) pow)*                    pow: unary ('**' unary)* unary: ('-'|'+') unary | primary
//   postfix*, then filters '|f(args)' and tests 'is [not] t arg'
// Statements: if/elif/else, for (tuple targets, `if` filter, else), set (names, tuples, ns.attr,
// block set with filters), macro, break, continue, and transformers' {% generation %} (a plain
// scope). Not here: extends/include/import/block, call blocks, filter blocks, with, recursive.
#include "jinja/internal.h"

namespace lmforge::jinja {
namespace {

ExprP make(Expr::Kind k, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = k;
  e->line = line;
  return e;
}

class Parser {
 public:
  Parser(std::vector<Token> t, const std::string& origin) : t_(std::move(t)), origin_(origin) {}

  std::shared_ptr<Program> run() {
    auto p = std::make_shared<Program>();
    p->body = parse_body({});
    if (cur().type != Tok::kEof) error("unexpected '" + cur().text + "'");
    return p;
  }

 private:
  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  [[noreturn]] void error(const std::string& msg, int line = 0) const {
    throw InputError(origin_, line ? line : cur().line, "chat_template", msg);
  }
  std::string describe(const Token& t) const {
    switch (t.type) {
      case Tok::kEof:
        return "end of template";
      case Tok::kBlockEnd:
        return "end of statement block";
      case Tok::kVarEnd:
        return "end of print statement";
      case Tok::kString:
        return "string";
      default:
        return t.text;
    }
  }
  bool is_op(const char* op) const { return cur().type == Tok::kOp && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == Tok::kName && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    ++i_;
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    ++i_;
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) error(std::string("expected '") + op + "', got '" + describe(cur()) + "'");
  }
  std::string expect_name() {
    if (cur().type != Tok::kName) error("expected a name, got '" + describe(cur()) + "'");
    return t_[i_++].text;
  }
  void expect_block_end() {
    if (cur().type != Tok::kBlockEnd)
      error("expected end of statement block, got '" + describe(cur()) + "'");
    ++i_;
  }

  // ---- statements ----
  // Parses until a block tag whose keyword is in `ends` (left unconsumed: cur() is that keyword).
  Body parse_body(std::initializer_list<const char*> ends) {
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::kEof) {
        if (ends.size() == 0) return body;
        std::string want;
        for (const char* e : ends) want += std::string(want.empty() ? "" : " or ") + "'" + e + "'";
        error("unexpected end of template: expected " + want);
      }
      if (t.type == Tok::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::kText;
        s->line = t.line;
        s->text = t.text;
        body.push_back(std::move(s));
        ++i_;
      } else if (t.type == Tok::kVarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::kOutput;
        s->line = t.line;
        ++i_;
        s->expr = parse_tuple(true, {});
        if (cur().type != Tok::kVarEnd)
          error("expected end of print statement, got '" + describe(cur()) + "'");
        ++i_;
        body.push_back(std::move(s));
      } else if (t.type == Tok::kBlockBegin) {
        const Token& kw = peek();
        if (kw.type == Tok::kName)
          for (const char* e : ends)
            if (kw.text == e) {
              ++i_;
              return body;
            }
        ++i_;
        body.push_back(parse_statement());
      } else {
        error("unexpected '" + describe(t) + "'");
      }
    }
  }

  // Nesting deeper than any real template is an error, not a stack overflow.
  struct Depth {
    explicit Depth(Parser& p) : p_(p) {
      if (++p_.depth_ > 256) p_.error("template nested more than 256 deep");
    }
    ~Depth() { --p_.depth_; }
    Parser& p_;
  };

  std::unique_ptr<Stmt> parse_statement() {
    Depth guard(*this);
    if (cur().type != Tok::kName) error("tag name expected");
    const std::string kw = cur().text;
    auto s = std::make_unique<Stmt>();
    s->line = cur().line;
    ++i_;
    if (kw == "if") {
      s->kind = Stmt::kIf;
      while (true) {
        ExprP test = parse_tuple(false, {});
        expect_block_end();
        Body b = parse_body({"elif", "else", "endif"});
        s->branches.emplace_back(std::move(test), std::move(b));
        const std::string end = expect_name();
        if (end == "elif") continue;
        if (end == "else") {
          expect_block_end();
          s->else_body = parse_body({"endif"});
          ++i_;
        }
        expect_block_end();
        return s;
      }
    }
    if (kw == "for") {
      s->kind = Stmt::kFor;
      parse_targets(*s, "in");
      if (!skip_name("in")) error("expected 'in'");
      s->expr = parse_tuple(false, {"if", "recursive"});
      if (skip_name("if")) s->cond = parse_expression();
      if (is_name("recursive")) error("recursive loops are not supported");
      expect_block_end();
      s->body = parse_body({"endfor", "else"});
      if (expect_name() == "else") {
        expect_block_end();
        s->else_body = parse_body({"endfor"});
        ++i_;
      }
      expect_block_end();
      return s;
    }
    if (kw == "set") {
      if (cur().type == Tok::kName && peek().type == Tok::kOp && peek().text == ".") {
        s->kind = Stmt::kSetAttr;
        s->targets.push_back(expect_name());
        ++i_;
        s->targets.push_back(expect_name());
        expect_op("=");
        s->expr = parse_tuple(true, {});
        expect_block_end();
        return s;
      }
      parse_targets(*s, "=");
      if (skip_op("=")) {
        s->kind = Stmt::kSet;
        s->expr = parse_tuple(true, {});
        expect_block_end();
        return s;
      }
      s->kind = Stmt::kSetBlock;
      if (s->unpack) error("a block set assigns one name");
      if (is_op("|")) s->filter = parse_filters(nullptr);
      expect_block_end();
      s->body = parse_body({"endset"});
      ++i_;
      expect_block_end();
      return s;
    }
    if (kw == "macro") {
      s->kind = Stmt::kMacro;
      s->targets.push_back(expect_name());
      expect_op("(");
      while (!is_op(")")) {
        if (!s->params.empty()) expect_op(",");
        if (is_op(")")) break;
        s->params.push_back(expect_name());
        if (skip_op("="))
          s->defaults.push_back(parse_expression());
        else if (!s->defaults.empty())
          error("non-default argument follows default argument");
      }
      expect_op(")");
      expect_block_end();
      s->body = parse_body({"endmacro"});
      ++i_;
      if (cur().type == Tok::kName) ++i_;  // {% endmacro name %}
      expect_block_end();
      return s;
    }
    if (kw == "break" || kw == "continue") {
      s->kind = kw == "break" ? Stmt::kBreak : Stmt::kContinue;
      expect_block_end();
      return s;
    }
    if (kw == "generation") {  // transformers' AssistantTracker: marks assistant text, renders it
      s->kind = Stmt::kScope;
      expect_block_end();
      s->body = parse_body({"endgeneration"});
      ++i_;
      expect_block_end();
      return s;
    }
    if (kw == "extends" || kw == "include" || kw == "import" || kw == "from" || kw == "block" ||
        kw == "call" || kw == "filter" || kw == "with" || kw == "autoescape")
      error("the '" + kw + "' statement is not supported by lmforge's template engine", s->line);
    error("encountered unknown tag '" + kw + "'", s->line);
  }

  // Assignment targets: a name or names separated by commas (for a, b in ...).
  void parse_targets(Stmt& s, const char* end) {
    s.targets.push_back(expect_name());
    bool paren = false;
    while (is_op(",")) {
      ++i_;
      if ((cur().type == Tok::kName && cur().text == end) || is_op(end)) break;
      s.targets.push_back(expect_name());
      s.unpack = true;
    }
    (void)paren;
    if (is_op(",")) s.unpack = true;
  }

  // ---- expressions ----
  bool tuple_end(std::initializer_list<const char*> extra) const {
    const Token& t = cur();
    if (t.type == Tok::kVarEnd || t.type == Tok::kBlockEnd || t.type == Tok::kEof) return true;
    if (t.type == Tok::kOp && t.text == ")") return true;
    if (t.type == Tok::kName)
      for (const char* e : extra)
        if (t.text == e) return true;
    return false;
  }
  ExprP parse_tuple(bool condexpr, std::initializer_list<const char*> extra,
                    bool explicit_parens = false) {
    const int line = cur().line;
    std::vector<ExprP> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (tuple_end(extra)) break;
      items.push_back(condexpr ? parse_expression() : parse_or());
      if (is_op(","))
        is_tuple = true;
      else
        break;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) error("Expected an expression, got '" + describe(cur()) + "'");
    }
    auto e = make(Expr::kTuple, line);
    e->args = std::move(items);
    return e;
  }
  ExprP parse_expression() {
    ExprP e = parse_or();
    while (is_name("if")) {
      const int line = cur().line;
      ++i_;
      auto c = make(Expr::kCond, line);
      ExprP test = parse_or();
      ExprP other = skip_name("else") ? parse_expression() : nullptr;
      c->args.push_back(std::move(test));
      c->args.push_back(std::move(e));
      c->args.push_back(std::move(other));
      e = std::move(c);
    }
    return e;
  }
  ExprP binary(Expr::Kind k, ExprP l, ExprP r, int line, std::string op = "") {
    auto e = make(k, line);
    e->name = std::move(op);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }
  ExprP parse_or() {
    ExprP e = parse_and();
    while (is_name("or")) {
      const int line = t_[i_++].line;
      e = binary(Expr::kOr, std::move(e), parse_and(), line);
    }
    return e;
  }
  ExprP parse_and() {
    ExprP e = parse_not();
    while (is_name("and")) {
      const int line = t_[i_++].line;
      e = binary(Expr::kAnd, std::move(e), parse_not(), line);
    }
    return e;
  }
  ExprP parse_not() {
    if (is_name("not")) {
      auto e = make(Expr::kNot, t_[i_++].line);
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprP parse_compare() {
    const int line = cur().line;
    ExprP first = parse_math1();
    ExprP e;
    while (true) {
      std::string op;
      if (cur().type == Tok::kOp &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" ||
           cur().text == "<=" || cur().text == ">=")) {
        op = t_[i_++].text;
      } else if (is_name("in")) {
        ++i_;
        op = "in";
      } else if (is_name("not") && peek().type == Tok::kName && peek().text == "in") {
        i_ += 2;
        op = "not in";
      } else {
        break;
      }
      if (!e) {
        e = make(Expr::kCompare, line);
        e->args.push_back(std::move(first));
      }
      e->ops.push_back(op);
      e->args.push_back(parse_math1());
    }
    return e ? std::move(e) : std::move(first);
  }
  ExprP parse_math1() {
    ExprP e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = t_[i_++];
      e = binary(Expr::kBin, std::move(e), parse_concat(), t.line, t.text);
    }
    return e;
  }
  ExprP parse_concat() {
    ExprP first = parse_math2();
    if (!is_op("~")) return first;
    auto e = make(Expr::kConcat, cur().line);
    e->args.push_back(std::move(first));
    while (skip_op("~")) e->args.push_back(parse_math2());
    return e;
  }
  ExprP parse_math2() {
    ExprP e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = t_[i_++];
      e = binary(Expr::kBin, std::move(e), parse_pow(), t.line, t.text);
    }
    return e;
  }
  ExprP parse_pow() {
    ExprP e = parse_unary(true);
    while (is_op("**")) {
      const Token& t = t_[i_++];
      e = binary(Expr::kBin, std::move(e), parse_unary(true), t.line, t.text);
    }
    return e;
  }
  ExprP parse_unary(bool with_filter) {
    Depth guard(*this);
    ExprP e;
    if (is_op("-") || is_op("+")) {
      const Token& t = t_[i_++];
      e = make(t.text == "-" ? Expr::kNeg : Expr::kPos, t.line);
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }
  ExprP parse_primary() {
    const Token& t = cur();
    if (t.type == Tok::kName) {
      ++i_;
      auto e = make(Expr::kConst, t.line);
      if (t.text == "true" || t.text == "True")
        e->value = Value::boolean(true);
      else if (t.text == "false" || t.text == "False")
        e->value = Value::boolean(false);
      else if (t.text == "none" || t.text == "None")
        e->value = Value::none();
      else {
        e->kind = Expr::kName;
        e->name = t.text;
      }
      return e;
    }
    if (t.type == Tok::kString) {
      auto e = make(Expr::kConst, t.line);
      std::string s;
      while (cur().type == Tok::kString) s += t_[i_++].text;  // adjacent literals concatenate
      e->value = Value::string(std::move(s));
      return e;
    }
    if (t.type == Tok::kInt || t.type == Tok::kFloat) {
      ++i_;
      auto e = make(Expr::kConst, t.line);
      e->value = t.type == Tok::kInt ? Value::integer(t.i) : Value::number(t.f);
      return e;
    }
    if (is_op("(")) {
      ++i_;
      ExprP e = parse_tuple(true, {}, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      auto e = make(Expr::kList, t_[i_++].line);
      while (!is_op("]")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("]")) break;
        e->args.push_back(parse_expression());
      }
      expect_op("]");
      return e;
    }
    if (is_op("{")) {
      auto e = make(Expr::kDict, t_[i_++].line);
      while (!is_op("}")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("}")) break;
        e->args.push_back(parse_expression());
        expect_op(":");
        e->args.push_back(parse_expression());
      }
      expect_op("}");
      return e;
    }
    error("unexpected '" + describe(t) + "'");
  }
  ExprP parse_postfix(ExprP e) {
    while (true) {
      if (is_op(".")) {
        const int line = t_[i_++].line;
        if (cur().type == Tok::kName) {
          auto a = make(Expr::kAttr, line);
          a->name = t_[i_++].text;
          a->args.push_back(std::move(e));
          e = std::move(a);
        } else if (cur().type == Tok::kInt) {
          auto k = make(Expr::kConst, line);
          k->value = Value::integer(t_[i_++].i);
          e = binary(Expr::kItem, std::move(e), std::move(k), line);
        } else {
          error("expected name or number");
        }
      } else if (is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e), Expr::kCall, "");
      } else {
        return e;
      }
    }
  }
  ExprP parse_subscript(ExprP obj) {
    const int line = t_[i_++].line;
    // [a], [a:b], [a:b:c] with any part left out; a tuple subscript is not supported.
    ExprP parts[3];
    int n = 0;
    bool is_slice = false;
    if (!is_op(":")) parts[0] = parse_expression();
    while (is_op(":") && n < 2) {
      ++i_;
      is_slice = true;
      ++n;
      if (!is_op(":") && !is_op("]")) parts[n] = parse_expression();
    }
    expect_op("]");
    if (!is_slice) return binary(Expr::kItem, std::move(obj), std::move(parts[0]), line);
    auto e = make(Expr::kSlice, line);
    e->args.push_back(std::move(obj));
    for (auto& p : parts) e->args.push_back(std::move(p));
    return e;
  }
  // Call arguments into e (positional after any already there, then keywords).
  void parse_args(Expr& e) {
    expect_op("(");
    bool comma = false;
    while (!is_op(")")) {
      if (comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) error("*args and **kwargs in calls are not supported");
      if (cur().type == Tok::kName && peek().type == Tok::kOp && peek().text == "=") {
        std::string key = t_[i_].text;
        i_ += 2;
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!e.kwargs.empty()) error("invalid syntax for function call expression");
        e.args.push_back(parse_expression());
      }
      comma = true;
    }
    expect_op(")");
  }
  ExprP parse_call(ExprP callee, Expr::Kind k, std::string name) {
    auto e = make(k, cur().line);
    e->name = std::move(name);
    e->args.push_back(std::move(callee));
    parse_args(*e);
    return e;
  }
  ExprP parse_filters(ExprP subject) {
    while (skip_op("|")) {
      const int line = cur().line;
      std::string name = expect_name();
      auto f = make(Expr::kFilter, line);
      f->name = name;
      f->args.push_back(std::move(subject));
      if (is_op("(")) parse_args(*f);
      subject = std::move(f);
    }
    return subject;
  }
  ExprP parse_filter_expr(ExprP e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filters(std::move(e));
      } else if (is_name("is")) {
        const int line = t_[i_++].line;
        const bool negated = skip_name("not");
        auto t = make(Expr::kTest, line);
        t->name = expect_name();
        t->args.push_back(std::move(e));
        if (is_op("(")) {
          parse_args(*t);
        } else if ((cur().type == Tok::kName || cur().type == Tok::kString ||
                    cur().type == Tok::kInt || cur().type == Tok::kFloat || is_op("[") ||
                    is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) error("You cannot chain multiple tests with is");
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
        if (negated) {
          auto n = make(Expr::kNot, line);
          n->args.push_back(std::move(e));
          e = std::move(n);
        }
      } else if (is_op("(")) {
        e = parse_call(std::move(e), Expr::kCall, "");
      } else {
        return e;
      }
    }
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  const std::string& origin_;
};

}  // namespace

std::shared_ptr<Program> parse_tokens(std::vector<Token> tokens, const std::string& origin) {
  return Parser(std::move(tokens), origin).run();
}

}  // namespace lmforge::jinja
