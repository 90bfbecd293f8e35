// Attribute and item access, slicing and iteration with Python and jinja2 sandbox semantics, and
// the methods templates call on values: str.strip/lstrip/rstrip/split/startswith/endswith/upper/
// lower/title/capitalize/replace/format/join/find/count/splitlines/is*, dict.get/items/keys/
// values, list.index/count. Methods that change a list or dict (append, update, pop...) fail as
// transformers' ImmutableSandboxedEnvironment makes them fail. Strings keep their content spans
// through indexing, slicing, strip, split and join.
// Not here: filters, tests and globals (jinja_builtins.cpp).
#include <algorithm>

#include "jinja/internal.h"

namespace lmforge::jinja {
namespace {

std::string object_name(const Value& v) {
  return type_name(v) + " object";
}

// Positional argument i or keyword `name` of a method call.
const Value* arg(const CallArgs& a, size_t i, const char* name) {
  if (i < a.pos.size()) return &a.pos[i];
  for (const auto& [k, v] : a.kw)
    if (k == name) return &v;
  return nullptr;
}

bool in_chars(uint32_t cp, const std::string& chars) {
  for (size_t i = 0; i < chars.size();)
    if (decode_at(chars, i) == cp) return true;
  return false;
}

// Python str.strip family over code points; chars null: whitespace.
Value strip(const Value& s, const Value* chars, bool left, bool right) {
  const std::string& t = s.text();
  const std::vector<size_t> cp = code_points(t);
  auto drop = [&](size_t k) {
    size_t i = cp[k];
    const uint32_t c = decode_at(t, i);
    return chars && !chars->is_none() ? in_chars(c, chars->text()) : py_isspace(c);
  };
  size_t b = 0, e = cp.size() - 1;
  if (left)
    while (b < e && drop(b)) ++b;
  if (right)
    while (e > b && drop(e - 1)) --e;
  return Value::string(substr(s.str(), cp[b], cp[e]));
}

Value split(const Value& s, const Value* sep, int64_t maxsplit) {
  const std::string& t = s.text();
  std::vector<Value> out;
  if (sep && !sep->is_none()) {
    const std::string& d = sep->text();
    if (d.empty()) fail("empty separator");
    size_t at = 0;
    for (size_t f; (maxsplit < 0 || int64_t(out.size()) < maxsplit) &&
                   (f = t.find(d, at)) != std::string::npos;
         at = f + d.size())
      out.push_back(Value::string(substr(s.str(), at, f)));
    out.push_back(Value::string(substr(s.str(), at, t.size())));
    return Value::list(std::move(out));
  }
  // Runs of whitespace separate; leading and trailing whitespace yield nothing.
  size_t i = 0;
  auto skip_space = [&] {
    while (i < t.size()) {
      size_t j = i;
      if (!py_isspace(decode_at(t, j))) break;
      i = j;
    }
  };
  skip_space();
  while (i < t.size()) {
    if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
      size_t e = t.size();
      out.push_back(Value::string(substr(s.str(), i, e)));
      break;
    }
    const size_t b = i;
    while (i < t.size()) {
      size_t j = i;
      if (py_isspace(decode_at(t, j))) break;
      i = j;
    }
    out.push_back(Value::string(substr(s.str(), b, i)));
    skip_space();
  }
  return Value::list(std::move(out));
}

bool affix(const Value& s, const Value& x, bool start) {
  if (x.is_list()) {
    for (const Value& v : x.list_data().items)
      if (affix(s, v, start)) return true;
    return false;
  }
  if (!x.is_string()) fail("startswith/endswith first arg must be str or a tuple of str");
  const std::string &t = s.text(), &p = x.text();
  if (p.size() > t.size()) return false;
  return start ? t.compare(0, p.size(), p) == 0 : t.compare(t.size() - p.size(), p.size(), p) == 0;
}

// Python str.format with {}, {0}, {name} fields ({{ and }} are braces); format specs are not
// supported.
Value format_method(const Value& s, CallArgs& a) {
  const std::string& t = s.text();
  std::string out;
  size_t auto_idx = 0;
  std::vector<const Value*> inputs{&s};
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '{' && i + 1 < t.size() && t[i + 1] == '{') {
      out += '{', ++i;
    } else if (t[i] == '}' && i + 1 < t.size() && t[i + 1] == '}') {
      out += '}', ++i;
    } else if (t[i] == '{') {
      const size_t e = t.find('}', i);
      if (e == std::string::npos) fail("Single '{' encountered in format string");
      const std::string field = t.substr(i + 1, e - i - 1);
      if (field.find_first_of(":!") != std::string::npos)
        fail("format specifications in str.format are not supported");
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_idx >= a.pos.size()) fail("Replacement index out of range for positional args");
        v = &a.pos[auto_idx++];
      } else if (std::all_of(field.begin(), field.end(),
                             [](char c) { return c >= '0' && c <= '9'; })) {
        const size_t k = field.size() < 9 ? std::stoul(field) : a.pos.size();
        if (k >= a.pos.size()) fail("Replacement index out of range for positional args");
        v = &a.pos[k];
      } else {
        for (const auto& [k, x] : a.kw)
          if (k == field) v = &x;
        if (!v) fail("KeyError: '" + field + "'");
      }
      out += to_str(*v);
      inputs.push_back(v);
      i = e;
    } else {
      out += t[i];
    }
  }
  bool c = false;
  for (const Value* v : inputs) c = c || has_content(*v);
  return Value::string(std::move(out), c);
}

Value join_values(const Value& sep, const std::vector<Value>& items) {
  StrBuilder b;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) b.append(sep);
    b.append(items[i]);
  }
  return b.build();
}

Value replace_str(const Value& s, const Value& old_v, const Value& new_v, int64_t count) {
  const std::string &t = s.text(), &o = old_v.text();
  if (o.empty()) {
    std::string out;
    const std::vector<size_t> cp = code_points(t);
    for (size_t k = 0; k + 1 < cp.size(); ++k) {
      if (count < 0 || int64_t(k) < count) out += new_v.text();
      out += t.substr(cp[k], cp[k + 1] - cp[k]);
    }
    if (count < 0 || int64_t(cp.size() - 1) < count) out += new_v.text();
    return derived(std::move(out), {&s, &old_v, &new_v});
  }
  StrBuilder b;
  size_t at = 0;
  int64_t n = 0;
  for (size_t f; (count < 0 || n < count) && (f = t.find(o, at)) != std::string::npos;
       at = f + o.size(), ++n) {
    b.append_spanned(substr(s.str(), at, f));
    const StrData hit = substr(s.str(), f, f + o.size());
    if (hit.content.empty())
      b.append(new_v);
    else
      b.append(new_v.text(), true);  // replacing content yields content
  }
  b.append_spanned(substr(s.str(), at, t.size()));
  return b.build();
}

Value method(const std::string& name, Function f) {
  return Value::function(name, std::move(f));
}

Value unsafe(const Value& obj, const std::string& name) {
  const std::string msg =
      "access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe.";
  return method(name, [msg](CallArgs&) -> Value { fail(msg); });
}

std::optional<Value> str_method(const Value& s, const std::string& n) {
  if (n == "strip" || n == "lstrip" || n == "rstrip")
    return method(n, [s, n](CallArgs& a) {
      return strip(s, arg(a, 0, "chars"), n != "rstrip", n != "lstrip");
    });
  if (n == "split")
    return method(n, [s](CallArgs& a) {
      const Value* m = arg(a, 1, "maxsplit");
      return split(s, arg(a, 0, "sep"), m ? m->as_int() : -1);
    });
  if (n == "startswith" || n == "endswith")
    return method(n, [s, n](CallArgs& a) {
      const Value* x = arg(a, 0, "prefix");
      if (!x) fail(n + "() takes at least 1 argument");
      return Value::boolean(affix(s, *x, n == "startswith"));
    });
  if (n == "upper" || n == "lower")
    return method(n, [s, n](CallArgs&) {
      return derived(n == "upper" ? py_upper(s.text()) : py_lower(s.text()), {&s});
    });
  if (n == "title" || n == "capitalize")
    return method(n, [s, n](CallArgs&) {
      CallArgs none;
      return call_filter(n, s, none);
    });
  if (n == "replace")
    return method(n, [s](CallArgs& a) {
      const Value* o = arg(a, 0, "old");
      const Value* w = arg(a, 1, "new");
      const Value* c = arg(a, 2, "count");
      if (!o || !w || !o->is_string() || !w->is_string()) fail("replace() takes two strings");
      return replace_str(s, *o, *w, c ? c->as_int() : -1);
    });
  if (n == "format") return method(n, [s](CallArgs& a) { return format_method(s, a); });
  if (n == "join")
    return method(n, [s](CallArgs& a) {
      if (a.pos.empty()) fail("join() takes exactly one argument");
      return join_values(s, iterate(a.pos[0]));
    });
  if (n == "find" || n == "count")
    return method(n, [s, n](CallArgs& a) {
      if (a.pos.empty() || !a.pos[0].is_string()) fail(n + "() takes a string");
      const std::string &t = s.text(), &x = a.pos[0].text();
      if (n == "find") {
        const size_t f = t.find(x);
        return Value::integer(
            f == std::string::npos ? -1 : int64_t(code_points(t.substr(0, f)).size() - 1));
      }
      int64_t c = 0;
      if (x.empty()) return Value::integer(int64_t(code_points(t).size()));
      for (size_t f = t.find(x); f != std::string::npos; f = t.find(x, f + x.size())) ++c;
      return Value::integer(c);
    });
  if (n == "splitlines")
    return method(n, [s](CallArgs&) {
      std::vector<Value> out;
      const std::string& t = s.text();
      size_t b = 0;
      for (size_t i = 0; i < t.size(); ++i)
        if (t[i] == '\n' || t[i] == '\r') {
          out.push_back(Value::string(substr(s.str(), b, i)));
          if (t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n') ++i;
          b = i + 1;
        }
      if (b < t.size()) out.push_back(Value::string(substr(s.str(), b, t.size())));
      return Value::list(std::move(out));
    });
  if (n == "isdigit" || n == "isspace" || n == "isalpha" || n == "isalnum" || n == "isupper" ||
      n == "islower")
    return method(n, [s, n](CallArgs&) {
      const std::string& t = s.text();
      bool any_cased = false, ok = !t.empty();
      for (size_t i = 0; i < t.size() && ok;) {
        const uint32_t c = decode_at(t, i);
        const bool digit = c >= '0' && c <= '9';
        const bool alpha = is_upper_cp(c) || is_lower_cp(c) || c >= 0x80;
        if (n == "isdigit")
          ok = digit;
        else if (n == "isspace")
          ok = py_isspace(c);
        else if (n == "isalpha")
          ok = alpha && !py_isspace(c);
        else if (n == "isalnum")
          ok = (alpha && !py_isspace(c)) || digit;
        else if (n == "isupper")
          ok = !is_lower_cp(c), any_cased = any_cased || is_upper_cp(c);
        else
          ok = !is_upper_cp(c), any_cased = any_cased || is_lower_cp(c);
      }
      if (n == "isupper" || n == "islower") ok = ok && any_cased;
      return Value::boolean(ok);
    });
  return std::nullopt;
}

std::optional<Value> dict_method(const Value& d, const std::string& n) {
  if (n == "items")
    return method(n, [d](CallArgs&) {
      std::vector<Value> out;
      for (const auto& [k, v] : d.dict_data().items) out.push_back(Value::list({k, v}, true));
      return Value::list(std::move(out));
    });
  if (n == "keys" || n == "values")
    return method(n, [d, n](CallArgs&) {
      std::vector<Value> out;
      for (const auto& [k, v] : d.dict_data().items) out.push_back(n == "keys" ? k : v);
      return Value::list(std::move(out));
    });
  if (n == "get")
    return method(n, [d](CallArgs& a) {
      if (a.pos.empty()) fail("get expected at least 1 argument, got 0");
      const Value* v = d.dict_data().find(a.pos[0]);
      if (v) return *v;
      return a.pos.size() > 1 ? a.pos[1] : Value::none();
    });
  if (n == "copy")
    return method(n, [d](CallArgs&) {
      Value c = Value::dict();
      c.dict_data().items = d.dict_data().items;
      return c;
    });
  if (n == "update" || n == "pop" || n == "popitem" || n == "setdefault" || n == "clear")
    return unsafe(d, n);
  return std::nullopt;
}

std::optional<Value> list_method(const Value& l, const std::string& n) {
  if (n == "index" || n == "count")
    return method(n, [l, n](CallArgs& a) {
      if (a.pos.empty()) fail(n + "() takes exactly one argument");
      const auto& items = l.list_data().items;
      int64_t c = 0;
      for (size_t i = 0; i < items.size(); ++i)
        if (equal(items[i], a.pos[0])) {
          if (n == "index") return Value::integer(int64_t(i));
          ++c;
        }
      if (n == "index") fail(to_repr(a.pos[0]) + " is not in list");
      return Value::integer(c);
    });
  if (n == "append" || n == "extend" || n == "insert" || n == "pop" || n == "remove" ||
      n == "clear" || n == "sort" || n == "reverse")
    return unsafe(l, n);
  return std::nullopt;
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  std::optional<Value> m;
  if (obj.is_string())
    m = str_method(obj, name);
  else if (obj.is_list())
    m = list_method(obj, name);
  else if (obj.is_dict() && !obj.dict_data().is_namespace)
    m = dict_method(obj, name);
  if (m) return *m;
  if (obj.is_dict())
    if (const Value* v = obj.dict_data().find(Value::string(name))) return *v;
  return Value::undefined("'" + object_name(obj) + "' has no attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_dict()) {
    if (const Value* v = obj.dict_data().find(key)) return *v;
    if (key.is_string()) return get_attr(obj, key.text());
    return Value::undefined("'" + object_name(obj) + "' has no attribute " + to_repr(key));
  }
  if ((obj.is_list() || obj.is_string()) && key.is_number() && !key.is_float()) {
    const std::vector<size_t> cp =
        obj.is_string() ? code_points(obj.text()) : std::vector<size_t>{};
    const int64_t n =
        obj.is_list() ? int64_t(obj.list_data().items.size()) : int64_t(cp.size() - 1);
    int64_t i = key.as_int();
    if (i < 0) i += n;
    if (i < 0 || i >= n)
      return Value::undefined("'" + object_name(obj) + "' has no element " + to_repr(key));
    if (obj.is_list()) return obj.list_data().items[size_t(i)];
    return Value::string(substr(obj.str(), cp[size_t(i)], cp[size_t(i) + 1]));
  }
  if (key.is_string()) return get_attr(obj, key.text());
  return Value::undefined("'" + object_name(obj) + "' has no element " + to_repr(key));
}

Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (!obj.is_list() && !obj.is_string())
    fail("'" + type_name(obj) + "' object is not subscriptable");
  for (const Value* v : {&start, &stop, &step})
    if (!v->is_none() && !(v->is_int() || v->is_bool()))
      fail("slice indices must be integers or None");
  const std::vector<size_t> cp = obj.is_string() ? code_points(obj.text()) : std::vector<size_t>{};
  const int64_t n = obj.is_list() ? int64_t(obj.list_data().items.size()) : int64_t(cp.size() - 1);
  const int64_t st = step.is_none() ? 1 : step.as_int();
  if (st == 0) fail("slice step cannot be zero");
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](const Value& v, int64_t dflt) {
    if (v.is_none()) return dflt;
    int64_t i = v.as_int();
    if (i < 0) {
      i += n;
      if (i < 0) i = st < 0 ? -1 : 0;
    } else if (i >= n) {
      i = st < 0 ? n - 1 : n;
    }
    return i;
  };
  const int64_t b = adjust(start, st < 0 ? n - 1 : 0), e = adjust(stop, st < 0 ? -1 : n);
  std::vector<int64_t> idx;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) idx.push_back(i);
  if (obj.is_list()) {
    std::vector<Value> out;
    for (int64_t i : idx) out.push_back(obj.list_data().items[size_t(i)]);
    return Value::list(std::move(out), obj.list_data().tuple);
  }
  if (st == 1) return Value::string(substr(obj.str(), cp[size_t(b)], cp[size_t(std::max(b, e))]));
  StrBuilder out;
  for (int64_t i : idx) out.append_spanned(substr(obj.str(), cp[size_t(i)], cp[size_t(i) + 1]));
  return out.build();
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kList:
      return v.list_data().items;
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      for (const auto& [k, x] : v.dict_data().items) keys.push_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> chars;
      const std::vector<size_t> cp = code_points(v.text());
      for (size_t i = 0; i + 1 < cp.size(); ++i)
        chars.push_back(Value::string(substr(v.str(), cp[i], cp[i + 1])));
      return chars;
    }
    default:
      fail("'" + type_name(v) + "' object is not iterable");
  }
}

}  // namespace lmforge::jinja
