// Tests (`x is defined`, `n is divisibleby 3`...) as jinja2 3.1 defines them (tests.py), and the
// globals of transformers' chat-template environment: raise_exception(msg), strftime_now(fmt),
// range, namespace, dict. Not here: filters (jinja_builtins.cpp).
#include <ctime>
#include <map>

#include "jinja/internal.h"

namespace lmforge::jinja {
namespace {

using Test = bool (*)(const Value&, CallArgs&);

Value call_method(const Value& obj, const char* name) {
  CallArgs none;
  return get_attr(obj, name).call(none);
}

const Value& arg0(const CallArgs& a, const char* test) {
  if (a.pos.empty()) fail(std::string("test '") + test + "' needs an argument");
  return a.pos[0];
}
bool t_defined(const Value& v, CallArgs&) {
  return !v.is_undefined();
}
bool t_undefined(const Value& v, CallArgs&) {
  return v.is_undefined();
}
bool t_none(const Value& v, CallArgs&) {
  return v.is_none();
}
bool t_boolean(const Value& v, CallArgs&) {
  return v.is_bool();
}
bool t_true(const Value& v, CallArgs&) {
  return v.is_bool() && v.as_bool();
}
bool t_false(const Value& v, CallArgs&) {
  return v.is_bool() && !v.as_bool();
}
bool t_integer(const Value& v, CallArgs&) {
  return v.is_int();
}
bool t_float(const Value& v, CallArgs&) {
  return v.is_float();
}
bool t_number(const Value& v, CallArgs&) {
  return v.is_number();
}
bool t_string(const Value& v, CallArgs&) {
  return v.is_string();
}
bool t_mapping(const Value& v, CallArgs&) {
  return v.is_dict() && !v.dict_data().is_namespace;
}
// jinja2: iter(x) works (Undefined too); sequence: len(x) and x[...] exist (Undefined too).
bool t_iterable(const Value& v, CallArgs&) {
  return v.is_string() || v.is_list() || (v.is_dict() && !v.dict_data().is_namespace) ||
         v.is_undefined();
}
bool t_callable(const Value& v, CallArgs&) {
  return v.is_function();
}
bool t_even(const Value& v, CallArgs&) {
  return v.as_int() % 2 == 0;
}
bool t_odd(const Value& v, CallArgs&) {
  return v.as_int() % 2 != 0;
}
bool t_divisibleby(const Value& v, CallArgs& a) {
  const int64_t d = arg0(a, "divisibleby").as_int();
  if (d == 0) fail("integer division or modulo by zero");
  return v.as_int() % d == 0;
}
bool t_eq(const Value& v, CallArgs& a) {
  return equal(v, arg0(a, "eq"));
}
bool t_ne(const Value& v, CallArgs& a) {
  return !equal(v, arg0(a, "ne"));
}
bool t_lt(const Value& v, CallArgs& a) {
  return compare(v, arg0(a, "lt"), "<") < 0;
}
bool t_le(const Value& v, CallArgs& a) {
  return compare(v, arg0(a, "le"), "<=") <= 0;
}
bool t_gt(const Value& v, CallArgs& a) {
  return compare(v, arg0(a, "gt"), ">") > 0;
}
bool t_ge(const Value& v, CallArgs& a) {
  return compare(v, arg0(a, "ge"), ">=") >= 0;
}
bool t_in(const Value& v, CallArgs& a) {
  const Value& c = arg0(a, "in");
  if (c.is_string()) return v.is_string() && c.text().find(v.text()) != std::string::npos;
  if (c.is_dict()) return c.dict_data().find(v) != nullptr;
  for (const Value& x : iterate(c))
    if (equal(x, v)) return true;
  return false;
}
bool t_lower(const Value& v, CallArgs&) {
  return v.is_string() && call_method(v, "islower").as_bool();
}
bool t_upper(const Value& v, CallArgs&) {
  return v.is_string() && call_method(v, "isupper").as_bool();
}
bool t_sameas(const Value& v, CallArgs& a) {
  const Value& o = arg0(a, "sameas");
  if (v.kind() != o.kind()) return false;
  if (v.is_none() || v.is_undefined()) return true;
  if (v.is_bool()) return v.as_bool() == o.as_bool();
  if (v.is_list()) return &v.list_data() == &o.list_data();
  if (v.is_dict()) return &v.dict_data() == &o.dict_data();
  return equal(v, o);
}
bool t_escaped(const Value&, CallArgs&) {
  return false;
}

const std::map<std::string, Test>& tests() {
  static const std::map<std::string, Test> t = {
      {"defined", t_defined},
      {"undefined", t_undefined},
      {"none", t_none},
      {"boolean", t_boolean},
      {"true", t_true},
      {"false", t_false},
      {"integer", t_integer},
      {"float", t_float},
      {"number", t_number},
      {"string", t_string},
      {"mapping", t_mapping},
      {"iterable", t_iterable},
      {"sequence", t_iterable},
      {"callable", t_callable},
      {"even", t_even},
      {"odd", t_odd},
      {"divisibleby", t_divisibleby},
      {"eq", t_eq},
      {"equalto", t_eq},
      {"==", t_eq},
      {"ne", t_ne},
      {"!=", t_ne},
      {"lt", t_lt},
      {"lessthan", t_lt},
      {"<", t_lt},
      {"le", t_le},
      {"<=", t_le},
      {"gt", t_gt},
      {"greaterthan", t_gt},
      {">", t_gt},
      {"ge", t_ge},
      {">=", t_ge},
      {"in", t_in},
      {"lower", t_lower},
      {"upper", t_upper},
      {"sameas", t_sameas},
      {"escaped", t_escaped},
  };
  return t;
}

Value g_range(CallArgs& a) {
  int64_t start = 0, stop = 0, step = 1;
  if (a.pos.size() == 1)
    stop = a.pos[0].as_int();
  else if (a.pos.size() >= 2)
    start = a.pos[0].as_int(), stop = a.pos[1].as_int();
  if (a.pos.size() >= 3) step = a.pos[2].as_int();
  if (a.pos.empty() || step == 0) fail("range() needs 1 to 3 integers and a non-zero step");
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    out.push_back(Value::integer(i));
    if (out.size() > 100000) fail("range too big");
  }
  return Value::list(std::move(out));
}
Value g_dict(CallArgs& a, bool ns) {
  Value d = Value::dict();
  d.dict_data().is_namespace = ns;
  for (const Value& p : a.pos) {
    if (!p.is_dict()) fail("namespace()/dict() take a mapping or keyword arguments");
    for (const auto& [k, v] : p.dict_data().items) d.dict_data().set(k, v);
  }
  for (const auto& [k, v] : a.kw) d.dict_data().set(Value::string(k), v);
  return d;
}

}  // namespace

bool has_test(const std::string& name) {
  return tests().count(name) > 0;
}

bool call_test(const std::string& name, const Value& subject, CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) fail("No test named '" + name + "'.");
  return it->second(subject, args);
}

void add_globals(Value& g) {
  g.set("raise_exception", Value::function("raise_exception", [](CallArgs& a) -> Value {
          throw Raised{a.pos.empty() ? std::string() : to_str(a.pos[0])};
        }));
  g.set("strftime_now", Value::function("strftime_now", [](CallArgs& a) {
          const std::time_t now = std::time(nullptr);
          std::tm tm{};
          localtime_r(&now, &tm);
          char buf[256];
          const std::string fmt = a.pos.empty() ? std::string() : to_str(a.pos[0]);
          const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
          return Value::string(std::string(buf, n));
        }));
  g.set("range", Value::function("range", g_range));
  g.set("namespace", Value::function("namespace", [](CallArgs& a) { return g_dict(a, true); }));
  g.set("dict", Value::function("dict", [](CallArgs& a) { return g_dict(a, false); }));
}

}  // namespace lmforge::jinja
