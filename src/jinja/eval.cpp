// The Jinja evaluator: walks the syntax tree with Python semantics and jinja2's scoping. Frames:
// globals, then the render variables (top-level {% set %} writes here too), then one fresh frame
// per loop iteration and per macro call, so a {% set %} inside a loop is gone after the iteration
// (namespace() objects are how templates carry state out of a loop, as in jinja2); an if block
// opens no frame. Output is built as a string that keeps its content spans.
// Not here: the filters, tests and methods (jinja_builtins.cpp).
#include <climits>
#include <cmath>

#include "jinja/internal.h"

namespace lmforge::jinja {

using Frame = std::vector<std::pair<std::string, Value>>;

class Interp {
 public:
  Interp(const std::string& origin) : origin_(origin) {}

  Rendered run(const Program& p, const Value& vars) {
    auto globals = std::make_shared<Frame>();
    Value g = Value::dict();
    add_globals(g);
    for (auto& [k, v] : g.dict_data().items) globals->emplace_back(k.text(), v);
    auto top = std::make_shared<Frame>();
    if (vars.is_dict())
      for (auto& [k, v] : vars.dict_data().items) top->emplace_back(to_str(k), v);
    frames_ = {globals, top};
    StrBuilder out;
    out_ = &out;
    try {
      exec(p.body);
    } catch (const EvalError& e) {
      throw InputError(origin_, line_, "chat_template", e.message);
    } catch (const Raised& r) {
      throw RaisedError(origin_, line_, r.message);
    }
    StrData d = out.take();
    return Rendered{std::move(d.text), std::move(d.content)};
  }

  int line() const { return line_; }
  const std::string& origin() const { return origin_; }

  Value lookup(const std::string& name) const {
    for (auto f = frames_.rbegin(); f != frames_.rend(); ++f)
      for (auto it = (*f)->rbegin(); it != (*f)->rend(); ++it)
        if (it->first == name) return it->second;
    return Value::undefined("'" + name + "' is undefined");
  }
  void assign(const std::string& name, Value v) {
    Frame& f = *frames_.back();
    for (auto& [k, x] : f)
      if (k == name) {
        x = std::move(v);
        return;
      }
    f.emplace_back(name, std::move(v));
  }

  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec(const Body& body) {
    for (const auto& s : body) {
      const Flow f = exec(*s);
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  Flow exec(const Stmt& s) {
    line_ = s.line;
    switch (s.kind) {
      case Stmt::kText:
        out_->append(s.text);
        return Flow::kNormal;
      case Stmt::kOutput:
        out_->append(eval(*s.expr));
        return Flow::kNormal;
      case Stmt::kIf:
        for (const auto& [test, body] : s.branches)
          if (truthy(eval(*test))) return exec(body);
        return exec(s.else_body);
      case Stmt::kFor:
        return exec_for(s);
      case Stmt::kSet:
        bind(s.targets, s.unpack, eval(*s.expr));
        return Flow::kNormal;
      case Stmt::kSetAttr: {
        Value ns = lookup(s.targets[0]);
        if (!ns.is_dict() || !ns.dict_data().is_namespace)
          fail("cannot assign attribute on non-namespace object");
        ns.dict_data().set(Value::string(s.targets[1]), eval(*s.expr));
        return Flow::kNormal;
      }
      case Stmt::kSetBlock: {
        Value v = capture(s.body);
        if (s.filter) v = apply_filters(*s.filter, v);
        assign(s.targets[0], v);
        return Flow::kNormal;
      }
      case Stmt::kMacro: {
        const Stmt* m = &s;
        assign(s.targets[0],
               Value::function(s.targets[0], [this, m](CallArgs& a) { return call_macro(*m, a); }));
        return Flow::kNormal;
      }
      case Stmt::kBreak:
        return Flow::kBreak;
      case Stmt::kContinue:
        return Flow::kContinue;
      case Stmt::kScope:
        return exec(s.body);
    }
    return Flow::kNormal;
  }

  Value capture(const Body& body) {
    StrBuilder b;
    StrBuilder* saved = out_;
    out_ = &b;
    exec(body);
    out_ = saved;
    return b.build();
  }

  void bind(const std::vector<std::string>& targets, bool unpack, const Value& v) {
    if (!unpack) {
      assign(targets[0], v);
      return;
    }
    std::vector<Value> items = iterate(v);
    if (items.size() != targets.size())
      fail(items.size() > targets.size()
               ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
               : "not enough values to unpack (expected " + std::to_string(targets.size()) +
                     ", got " + std::to_string(items.size()) + ")");
    for (size_t i = 0; i < items.size(); ++i) assign(targets[i], items[i]);
  }

  Flow exec_for(const Stmt& s) {
    const Value seq = eval(*s.expr);
    std::vector<Value> all = seq.is_undefined() ? std::vector<Value>{} : iterate(seq);
    std::vector<Value> items;
    for (Value& v : all) {
      if (s.cond) {
        frames_.push_back(std::make_shared<Frame>());
        bind(s.targets, s.unpack, v);
        const bool keep = truthy(eval(*s.cond));
        frames_.pop_back();
        if (!keep) continue;
      }
      items.push_back(std::move(v));
    }
    const int64_t n = int64_t(items.size());
    for (int64_t i = 0; i < n; ++i) {
      frames_.push_back(std::make_shared<Frame>());
      Value loop = Value::dict();
      loop.set("index", Value::integer(i + 1))
          .set("index0", Value::integer(i))
          .set("revindex", Value::integer(n - i))
          .set("revindex0", Value::integer(n - i - 1))
          .set("first", Value::boolean(i == 0))
          .set("last", Value::boolean(i == n - 1))
          .set("length", Value::integer(n))
          .set("depth", Value::integer(1))
          .set("depth0", Value::integer(0))
          .set("previtem",
               i > 0 ? items[size_t(i - 1)] : Value::undefined("there is no previous item"))
          .set("nextitem",
               i + 1 < n ? items[size_t(i + 1)] : Value::undefined("there is no next item"))
          .set("cycle", Value::function("cycle", [i](CallArgs& a) {
                 if (a.pos.empty()) fail("no items for cycling given");
                 return a.pos[size_t(i) % a.pos.size()];
               }));
      assign("loop", loop);
      bind(s.targets, s.unpack, items[size_t(i)]);
      const Flow f = exec(s.body);
      frames_.pop_back();
      if (f == Flow::kBreak) break;
    }
    if (n == 0) return exec(s.else_body);
    return Flow::kNormal;
  }

  Value call_macro(const Stmt& m, CallArgs& a) {
    if (a.pos.size() > m.params.size())
      fail("macro '" + m.targets[0] + "' takes not more than " + std::to_string(m.params.size()) +
           " argument(s)");
    // Deep enough for any real template; a runaway recursion is an error, not a stack overflow.
    if (macro_depth_ >= 100) fail("macro '" + m.targets[0] + "' recursed more than 100 deep");
    ++macro_depth_;
    auto saved = frames_;
    const int saved_line = line_;
    frames_ = {saved[0], saved[1], std::make_shared<Frame>()};
    const size_t first_default = m.params.size() - m.defaults.size();
    for (size_t i = 0; i < m.params.size(); ++i) {
      Value v;
      bool found = i < a.pos.size();
      if (found) v = a.pos[i];
      for (auto& [k, x] : a.kw)
        if (k == m.params[i]) v = x, found = true;
      if (!found)
        v = i >= first_default
                ? eval(*m.defaults[i - first_default])
                : Value::undefined("parameter '" + m.params[i] + "' was not provided");
      assign(m.params[i], v);
    }
    for (auto& [k, x] : a.kw) {
      bool known = false;
      for (const auto& p : m.params) known = known || p == k;
      if (!known) fail("macro '" + m.targets[0] + "' has no argument named '" + k + "'");
    }
    Value out = capture(m.body);
    --macro_depth_;
    frames_ = std::move(saved);
    line_ = saved_line;
    return out;
  }

  // ---- expressions ----
  CallArgs eval_args(const Expr& e) {
    CallArgs a;
    for (size_t i = 1; i < e.args.size(); ++i) a.pos.push_back(eval(*e.args[i]));
    for (const auto& [k, x] : e.kwargs) a.kw.emplace_back(k, eval(*x));
    return a;
  }
  Value apply_filters(const Expr& f, const Value& subject) {
    Value v = f.args[0] ? apply_filters(*f.args[0], subject) : subject;
    CallArgs a = eval_args(f);
    return call_filter(f.name, v, a);
  }

  Value eval(const Expr& e) {
    if (e.line) line_ = e.line;
    switch (e.kind) {
      case Expr::kConst:
        return e.value;
      case Expr::kName:
        return lookup(e.name);
      case Expr::kAttr: {
        const Value obj = eval(*e.args[0]);
        if (obj.is_undefined()) fail(obj.undefined_hint());
        return get_attr(obj, e.name);
      }
      case Expr::kItem: {
        const Value obj = eval(*e.args[0]);
        if (obj.is_undefined()) fail(obj.undefined_hint());
        return get_item(obj, eval(*e.args[1]));
      }
      case Expr::kSlice: {
        const Value obj = eval(*e.args[0]);
        if (obj.is_undefined()) fail(obj.undefined_hint());
        Value p[3];
        for (int i = 0; i < 3; ++i)
          p[i] = e.args[size_t(i) + 1] ? eval(*e.args[size_t(i) + 1]) : Value::none();
        return slice(obj, p[0], p[1], p[2]);
      }
      case Expr::kCall: {
        const Value fn = eval(*e.args[0]);
        if (fn.is_undefined()) fail(fn.undefined_hint());
        if (!fn.is_function()) fail("'" + type_name(fn) + "' object is not callable");
        CallArgs a = eval_args(e);
        line_ = e.line;
        return fn.call(a);
      }
      case Expr::kFilter: {
        Value v = eval(*e.args[0]);
        CallArgs a = eval_args(e);
        line_ = e.line;
        return call_filter(e.name, v, a);
      }
      case Expr::kTest: {
        Value v = eval(*e.args[0]);
        CallArgs a = eval_args(e);
        line_ = e.line;
        return Value::boolean(call_test(e.name, v, a));
      }
      case Expr::kNeg:
      case Expr::kPos: {
        const Value v = eval(*e.args[0]);
        if (v.is_undefined()) fail(v.undefined_hint());
        if (!v.is_number())
          fail("bad operand type for unary " + std::string(e.kind == Expr::kNeg ? "-" : "+") +
               ": '" + type_name(v) + "'");
        if (e.kind == Expr::kPos) return v.is_bool() ? Value::integer(v.as_int()) : v;
        if (!v.is_float() && v.as_int() == INT64_MIN) fail("integer overflow");
        return v.is_float() ? Value::number(-v.as_float()) : Value::integer(-v.as_int());
      }
      case Expr::kNot:
        return Value::boolean(!truthy(eval(*e.args[0])));
      case Expr::kAnd: {
        Value a = eval(*e.args[0]);
        return truthy(a) ? eval(*e.args[1]) : a;
      }
      case Expr::kOr: {
        Value a = eval(*e.args[0]);
        return truthy(a) ? a : eval(*e.args[1]);
      }
      case Expr::kBin:
        return binary(e.name, eval(*e.args[0]), eval(*e.args[1]));
      case Expr::kCompare: {
        Value left = eval(*e.args[0]);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.args[i + 1]);
          if (!compare_op(e.ops[i], left, right)) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case Expr::kCond:
        if (truthy(eval(*e.args[0]))) return eval(*e.args[1]);
        return e.args[2] ? eval(*e.args[2]) : Value::undefined("the inline if had no else");
      case Expr::kList:
      case Expr::kTuple: {
        std::vector<Value> items;
        for (const auto& x : e.args) items.push_back(eval(*x));
        return Value::list(std::move(items), e.kind == Expr::kTuple);
      }
      case Expr::kDict: {
        Value d = Value::dict();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2)
          d.dict_data().set(eval(*e.args[i]), eval(*e.args[i + 1]));
        return d;
      }
      case Expr::kConcat: {
        StrBuilder b;
        for (const auto& x : e.args) b.append(eval(*x));
        return b.build();
      }
    }
    return Value();
  }

  static bool contains(const Value& container, const Value& item) {
    if (container.is_string()) {
      if (!item.is_string())
        fail("'in <string>' requires string as left operand, not " + type_name(item));
      return container.text().find(item.text()) != std::string::npos;
    }
    if (container.is_dict()) return container.dict_data().find(item) != nullptr;
    if (container.is_list()) {
      for (const Value& v : container.list_data().items)
        if (equal(v, item)) return true;
      return false;
    }
    if (container.is_undefined()) return false;
    fail("argument of type '" + type_name(container) + "' is not iterable");
  }

  static bool compare_op(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return equal(a, b);
    if (op == "!=") return !equal(a, b);
    if (op == "in") return contains(b, a);
    if (op == "not in") return !contains(b, a);
    const int c = compare(a, b, op.c_str());
    if (op == "<") return c < 0;
    if (op == ">") return c > 0;
    if (op == "<=") return c <= 0;
    return c >= 0;
  }

  static Value binary(const std::string& op, const Value& a, const Value& b) {
    if (a.is_undefined()) fail(a.undefined_hint());
    if (b.is_undefined()) fail(b.undefined_hint());
    auto unsupported = [&]() -> Value {
      if (op == "+" && a.is_string())
        fail("can only concatenate str (not \"" + type_name(b) + "\") to str");
      fail("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" +
           type_name(b) + "'");
    };
    if (a.is_number() && b.is_number()) {
      const bool f = a.is_float() || b.is_float();
      const double x = a.as_float(), y = b.as_float();
      const int64_t i = a.as_int(), j = b.as_int();
      // Python integers are unbounded; ours are 64-bit and overflow is an error, never wrong.
      int64_t r = 0;
      auto checked = [&](bool overflow) {
        if (overflow) fail("integer overflow (templates use 64-bit integers)");
        return Value::integer(r);
      };
      if (op == "+") return f ? Value::number(x + y) : checked(__builtin_add_overflow(i, j, &r));
      if (op == "-") return f ? Value::number(x - y) : checked(__builtin_sub_overflow(i, j, &r));
      if (op == "*") return f ? Value::number(x * y) : checked(__builtin_mul_overflow(i, j, &r));
      if (op == "/") {
        if (y == 0) fail("division by zero");
        return Value::number(x / y);
      }
      if (op == "//" || op == "%") {
        if (f ? y == 0 : j == 0)
          fail(op == "%" ? "modulo by zero" : "integer division or modulo by zero");
        if (f) {
          const double q = std::floor(x / y);
          return op == "//" ? Value::number(q) : Value::number(x - q * y);
        }
        if (i == INT64_MIN && j == -1) fail("integer overflow (templates use 64-bit integers)");
        int64_t q = i / j;
        if ((i % j != 0) && ((i < 0) != (j < 0))) --q;
        return op == "//" ? Value::integer(q) : Value::integer(i - q * j);
      }
      if (op == "**") {
        if (!f && j >= 0) {
          int64_t base = i, e = j;  // by squaring, so a huge exponent overflows fast
          r = 1;
          while (e > 0) {
            if ((e & 1) && __builtin_mul_overflow(r, base, &r)) checked(true);
            e >>= 1;
            if (e > 0 && __builtin_mul_overflow(base, base, &base)) checked(true);
          }
          return Value::integer(r);
        }
        return Value::number(std::pow(x, y));
      }
      return unsupported();
    }
    if (op == "+" && a.is_string() && b.is_string()) {
      StrBuilder s;
      s.append(a);
      s.append(b);
      return s.build();
    }
    if (op == "+" && a.is_list() && b.is_list()) {
      std::vector<Value> items = a.list_data().items;
      for (const Value& v : b.list_data().items) items.push_back(v);
      return Value::list(std::move(items), a.list_data().tuple && b.list_data().tuple);
    }
    if (op == "*" && (((a.is_string() || a.is_list()) && b.is_int()) ||
                      (a.is_int() && (b.is_string() || b.is_list())))) {
      const Value& seq = a.is_int() ? b : a;
      const int64_t n = a.is_int() ? a.as_int() : b.as_int();
      const size_t unit = seq.is_string() ? seq.text().size() : seq.list_data().items.size();
      if (n > 0 && unit > 0 && uint64_t(n) > (uint64_t(1) << 24) / unit)
        fail("repetition too large (more than 16 Mi bytes or items)");
      if (seq.is_string()) {
        StrBuilder s;
        for (int64_t k = 0; k < n; ++k) s.append(seq);
        return s.build();
      }
      std::vector<Value> items;
      for (int64_t k = 0; k < n; ++k)
        for (const Value& v : seq.list_data().items) items.push_back(v);
      return Value::list(std::move(items));
    }
    if (op == "%" && a.is_string()) {
      CallArgs args;
      if (b.is_list() && b.list_data().tuple)
        args.pos = b.list_data().items;
      else
        args.pos.push_back(b);
      return call_filter("format", a, args);
    }
    return unsupported();
  }

 private:
  std::string origin_;
  std::vector<std::shared_ptr<Frame>> frames_;
  StrBuilder* out_ = nullptr;
  int line_ = 1;
  int macro_depth_ = 0;
};

namespace {

// Unknown filters and tests are errors when the template is loaded, as in jinja2.
void check_names(const Expr* e, const std::string& origin) {
  if (!e) return;
  if (e->kind == Expr::kFilter && !has_filter(e->name))
    throw InputError(origin, e->line, "chat_template", "No filter named '" + e->name + "'.");
  if (e->kind == Expr::kTest && !has_test(e->name))
    throw InputError(origin, e->line, "chat_template", "No test named '" + e->name + "'.");
  for (const auto& a : e->args) check_names(a.get(), origin);
  for (const auto& [k, a] : e->kwargs) check_names(a.get(), origin);
}
void check_names(const Body& body, const std::string& origin) {
  for (const auto& s : body) {
    check_names(s->expr.get(), origin);
    check_names(s->cond.get(), origin);
    check_names(s->filter.get(), origin);
    for (const auto& [t, b] : s->branches) {
      check_names(t.get(), origin);
      check_names(b, origin);
    }
    for (const auto& d : s->defaults) check_names(d.get(), origin);
    check_names(s->body, origin);
    check_names(s->else_body, origin);
  }
}

}  // namespace

Template Template::parse(std::string_view source, std::string origin) {
  Template t;
  t.origin_ = std::move(origin);
  auto p = parse_tokens(lex(source, t.origin_), t.origin_);
  check_names(p->body, t.origin_);
  t.program_ = std::move(p);
  return t;
}

Rendered Template::render(const Value& vars) const {
  if (!program_) return {};
  Interp in(origin_);
  return in.run(*program_, vars);
}

}  // namespace lmforge::jinja
