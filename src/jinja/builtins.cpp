// Filters of the chat-template environment, each as jinja2 3.1 defines it (filters.py), with
// transformers' tojson: json.dumps(ensure_ascii=False, indent, separators, sort_keys), no HTML
// escaping.
// Content spans: trim/string/join/first/last/list/default keep them exactly; other filters that
// build a new string mark all of it as content when an input had content.
// Not here: tests and globals (jinja_tests.cpp), attribute access and methods (jinja_methods.cpp).
#include <algorithm>
#include <cmath>
#include <map>

#include "jinja/internal.h"

namespace lmforge::jinja {
namespace {

using Filter = Value (*)(const Value&, CallArgs&);

const Value* arg(const CallArgs& a, size_t i, const char* name) {
  if (i < a.pos.size()) return &a.pos[i];
  for (const auto& [k, v] : a.kw)
    if (k == name) return &v;
  return nullptr;
}
bool flag(const CallArgs& a, size_t i, const char* name) {
  const Value* v = arg(a, i, name);
  return v && truthy(*v);
}
// Filters that read their input as a string see Undefined as "" (jinja2's soft_str).
Value soft_str(const Value& v) {
  return v.is_undefined() ? Value::string("") : as_string(v);
}
// Filters that need a real value fail on Undefined with its hint.
void defined_or_fail(const Value& v) {
  if (v.is_undefined()) fail(v.undefined_hint());
}
Value str_of(const Value& v) {
  return as_string(v);
}
Value call_method(const Value& obj, const char* name) {
  CallArgs none;
  return get_attr(obj, name).call(none);
}
std::string stripped(const Value& v) {
  return call_method(v, "strip").text();
}

// Jinja's attribute paths: "a.b", integer parts index lists.
Value attribute_of(const Value& item, const std::string& path) {
  Value v = item;
  size_t at = 0;
  while (true) {
    const size_t dot = path.find('.', at);
    const std::string part =
        path.substr(at, dot == std::string::npos ? std::string::npos : dot - at);
    const bool digits =
        !part.empty() && part.size() < 18 && std::all_of(part.begin(), part.end(), ::isdigit);
    v = digits ? get_item(v, Value::integer(std::stoll(part))) : get_item(v, Value::string(part));
    if (dot == std::string::npos) return v;
    at = dot + 1;
  }
}

int64_t length_of(const Value& v) {
  if (v.is_string()) return int64_t(code_points(v.text()).size() - 1);
  if (v.is_list()) return int64_t(v.list_data().items.size());
  if (v.is_dict()) return int64_t(v.dict_data().items.size());
  if (v.is_undefined()) return 0;
  fail("object of type '" + type_name(v) + "' has no len()");
}

Value f_trim(const Value& v, CallArgs& a) {
  Value s = soft_str(v);
  return get_attr(s, "strip").call(a);
}
Value f_upper(const Value& v, CallArgs&) {
  return derived(py_upper(to_str(v)), {&v});
}
Value f_lower(const Value& v, CallArgs&) {
  return derived(py_lower(to_str(v)), {&v});
}
Value f_capitalize(const Value& v, CallArgs&) {
  const std::string t = to_str(v);
  size_t i = 0;
  std::string out;
  if (!t.empty()) {
    const uint32_t c = decode_at(t, i);
    std::string first;
    append_utf8(first, c);
    out = py_upper(first) + py_lower(t.substr(i));
  }
  return derived(std::move(out), {&v});
}
// jinja2's do_title: each piece after a run of [-\s({\[<] gets its first letter upper-cased and
// the rest lower-cased.
Value f_title(const Value& v, CallArgs&) {
  const std::string t = to_str(v);
  std::string out;
  bool start = true;
  for (size_t i = 0; i < t.size();) {
    const uint32_t c = decode_at(t, i);
    std::string ch;
    append_utf8(ch, c);
    const bool sep = py_isspace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      out += ch;
      start = true;
    } else {
      out += start ? py_upper(ch) : py_lower(ch);
      start = false;
    }
  }
  return derived(std::move(out), {&v});
}
Value f_length(const Value& v, CallArgs&) {
  return Value::integer(length_of(v));
}
Value f_first(const Value& v, CallArgs&) {
  std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}
Value f_last(const Value& v, CallArgs&) {
  std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}
Value f_join(const Value& v, CallArgs& a) {
  const Value* sep = arg(a, 0, "d");
  const Value* attr = arg(a, 1, "attribute");
  StrBuilder b;
  std::vector<Value> items = iterate(v);
  for (size_t i = 0; i < items.size(); ++i) {
    if (i && sep) b.append(*sep);
    b.append(attr ? attribute_of(items[i], to_str(*attr)) : items[i]);
  }
  return b.build();
}
Value f_default(const Value& v, CallArgs& a) {
  const Value* d = arg(a, 0, "default_value");
  const bool boolean = flag(a, 1, "boolean");
  if (v.is_undefined() || (boolean && !truthy(v))) return d ? *d : Value::string("");
  return v;
}
Value f_replace(const Value& v, CallArgs& a) {
  Value s = soft_str(v);
  CallArgs m;
  for (size_t i = 0; i < 3; ++i)
    if (const Value* x = arg(a, i, i == 0 ? "old" : i == 1 ? "new" : "count"))
      m.pos.push_back(i < 2 ? str_of(*x) : *x);
  return get_attr(s, "replace").call(m);
}
Value f_list(const Value& v, CallArgs&) {
  return Value::list(iterate(v));
}
Value f_string(const Value& v, CallArgs&) {
  return str_of(v);
}
Value f_int(const Value& v, CallArgs& a) {
  defined_or_fail(v);
  const Value* d = arg(a, 0, "default");
  const Value dflt = d ? *d : Value::integer(0);
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  auto from_float = [&](double f) {
    if (!(std::fabs(f) < 9.2e18))
      fail("cannot convert float " + float_repr(f) + " to a 64-bit integer");
    return Value::integer(int64_t(f));
  };
  if (v.is_float()) return from_float(v.as_float());
  if (v.is_string()) {
    const std::string t = stripped(v);
    try {
      size_t used = 0;
      const int64_t i = std::stoll(t, &used, 10);
      if (used == t.size()) return Value::integer(i);
      const double f = std::stod(t, &used);
      if (used == t.size()) return from_float(f);
    } catch (const std::exception&) {
    }
  }
  return dflt;
}
Value f_float(const Value& v, CallArgs& a) {
  defined_or_fail(v);
  const Value* d = arg(a, 0, "default");
  if (v.is_number()) return Value::number(v.as_float());
  if (v.is_string()) try {
      size_t used = 0;
      const std::string t = stripped(v);
      const double f = std::stod(t, &used);
      if (used == t.size()) return Value::number(f);
    } catch (const std::exception&) {
    }
  return d ? *d : Value::number(0.0);
}
Value f_abs(const Value& v, CallArgs&) {
  if (v.is_float()) return Value::number(std::fabs(v.as_float()));
  if (v.is_number()) return Value::integer(std::llabs(v.as_int()));
  fail("bad operand type for abs(): '" + type_name(v) + "'");
}
Value f_round(const Value& v, CallArgs& a) {
  defined_or_fail(v);
  const Value* p = arg(a, 0, "precision");
  const Value* m = arg(a, 1, "method");
  const std::string method = m ? to_str(*m) : "common";
  const double scale = std::pow(10.0, p ? double(p->as_int()) : 0.0);
  const double x = v.as_float() * scale;
  const double r = method == "ceil"    ? std::ceil(x)
                   : method == "floor" ? std::floor(x)
                                       : std::nearbyint(x);  // Python rounds half to even
  return Value::number(r / scale);
}
// transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value f_tojson(const Value& v, CallArgs& a) {
  const Value* ea = arg(a, 0, "ensure_ascii");
  const Value* ind = arg(a, 1, "indent");
  const Value* sep = arg(a, 2, "separators");
  std::string item_sep, key_sep;
  if (sep && !sep->is_none()) {
    if (!sep->is_list() || sep->list_data().items.size() != 2) fail("separators must be a pair");
    item_sep = to_str(sep->list_data().items[0]);
    key_sep = to_str(sep->list_data().items[1]);
  }
  const int indent = ind && !ind->is_none() ? int(ind->as_int()) : -1;
  return derived(to_json(v, ea && truthy(*ea), indent, item_sep, key_sep, flag(a, 3, "sort_keys")),
                 {&v});
}
Value f_items(const Value& v, CallArgs& a) {
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
  return get_attr(v, "items").call(a);
}
Value f_safe(const Value& v, CallArgs&) {
  return v;
}
Value f_escape(const Value& v, CallArgs&) {
  std::string out;
  for (char c : to_str(v)) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&#34;";
    else if (c == '\'')
      out += "&#39;";
    else
      out += c;
  }
  return derived(std::move(out), {&v});
}
Value f_map(const Value& v, CallArgs& a) {
  std::vector<Value> out;
  const Value* attr = arg(a, 99, "attribute");
  if (attr) {
    const Value* d = arg(a, 99, "default");
    for (const Value& x : iterate(v)) {
      Value y = attribute_of(x, to_str(*attr));
      out.push_back(y.is_undefined() && d ? *d : y);
    }
    return Value::list(std::move(out));
  }
  if (a.pos.empty()) fail("map requires a filter name or attribute=");
  const std::string name = to_str(a.pos[0]);
  if (!has_filter(name)) fail("No filter named '" + name + "'.");
  CallArgs rest{std::vector<Value>(a.pos.begin() + 1, a.pos.end()), a.kw};
  for (const Value& x : iterate(v)) {
    CallArgs c = rest;
    out.push_back(call_filter(name, x, c));
  }
  return Value::list(std::move(out));
}
// select/reject/selectattr/rejectattr share one body.
Value select_impl(const Value& v, CallArgs& a, bool by_attr, bool keep) {
  size_t i = 0;
  std::string attr;
  if (by_attr) {
    if (a.pos.empty()) fail("selectattr/rejectattr need an attribute");
    attr = to_str(a.pos[i++]);
  }
  std::string test;
  if (i < a.pos.size()) test = to_str(a.pos[i++]);
  if (!test.empty() && !has_test(test)) fail("No test named '" + test + "'.");
  CallArgs targs{std::vector<Value>(a.pos.begin() + long(i), a.pos.end()), {}};
  std::vector<Value> out;
  for (const Value& x : iterate(v)) {
    const Value y = by_attr ? attribute_of(x, attr) : x;
    CallArgs c = targs;
    const bool ok = test.empty() ? truthy(y) : call_test(test, y, c);
    if (ok == keep) out.push_back(x);
  }
  return Value::list(std::move(out));
}
Value f_select(const Value& v, CallArgs& a) {
  return select_impl(v, a, false, true);
}
Value f_reject(const Value& v, CallArgs& a) {
  return select_impl(v, a, false, false);
}
Value f_selectattr(const Value& v, CallArgs& a) {
  return select_impl(v, a, true, true);
}
Value f_rejectattr(const Value& v, CallArgs& a) {
  return select_impl(v, a, true, false);
}

Value sort_key(const Value& x, const Value* attr, bool case_sensitive) {
  Value k = attr ? attribute_of(x, to_str(*attr)) : x;
  if (!case_sensitive && k.is_string()) return Value::string(py_lower(k.text()));
  return k;
}
Value f_unique(const Value& v, CallArgs& a) {
  const bool cs = flag(a, 0, "case_sensitive");
  const Value* attr = arg(a, 1, "attribute");
  std::vector<Value> out, seen;
  for (const Value& x : iterate(v)) {
    const Value k = sort_key(x, attr, cs);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, k); })) {
      seen.push_back(k);
      out.push_back(x);
    }
  }
  return Value::list(std::move(out));
}
Value f_sort(const Value& v, CallArgs& a) {
  const bool rev = flag(a, 0, "reverse");
  const bool cs = flag(a, 1, "case_sensitive");
  const Value* attr = arg(a, 2, "attribute");
  std::vector<Value> items = iterate(v);
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    const int c = compare(sort_key(x, attr, cs), sort_key(y, attr, cs), "<");
    return rev ? c > 0 : c < 0;
  });
  return Value::list(std::move(items));
}
Value f_dictsort(const Value& v, CallArgs& a) {
  if (!v.is_dict()) fail("You can only sort by either \"key\" or \"value\"");
  const bool cs = flag(a, 0, "case_sensitive");
  const Value* by = arg(a, 1, "by");
  const bool by_value = by && to_str(*by) == "value";
  const bool rev = flag(a, 2, "reverse");
  std::vector<Value> items;
  for (const auto& [k, x] : v.dict_data().items) items.push_back(Value::list({k, x}, true));
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    const size_t i = by_value ? 1 : 0;
    const int c = compare(sort_key(x.list_data().items[i], nullptr, cs),
                          sort_key(y.list_data().items[i], nullptr, cs), "<");
    return rev ? c > 0 : c < 0;
  });
  return Value::list(std::move(items));
}
Value f_reverse(const Value& v, CallArgs&) {
  if (v.is_string()) return slice(v, Value::none(), Value::none(), Value::integer(-1));
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}
Value f_sum(const Value& v, CallArgs& a) {
  const Value* attr = arg(a, 0, "attribute");
  const Value* start = arg(a, 1, "start");
  Value total = start ? *start : Value::integer(0);
  for (const Value& x : iterate(v)) {
    const Value y = attr ? attribute_of(x, to_str(*attr)) : x;
    if (!y.is_number() || !total.is_number()) fail("unsupported operand type(s) for +");
    total = total.is_float() || y.is_float() ? Value::number(total.as_float() + y.as_float())
                                             : Value::integer(total.as_int() + y.as_int());
  }
  return total;
}
Value minmax(const Value& v, CallArgs& a, bool want_max) {
  const bool cs = flag(a, 0, "case_sensitive");
  const Value* attr = arg(a, 1, "attribute");
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  Value best = items[0];
  for (const Value& x : items) {
    const int c = compare(sort_key(x, attr, cs), sort_key(best, attr, cs), "<");
    if (want_max ? c > 0 : c < 0) best = x;
  }
  return best;
}
Value f_min(const Value& v, CallArgs& a) {
  return minmax(v, a, false);
}
Value f_max(const Value& v, CallArgs& a) {
  return minmax(v, a, true);
}
// jinja2 3.1's do_indent.
Value f_indent(const Value& v, CallArgs& a) {
  defined_or_fail(v);
  const Value* w = arg(a, 0, "width");
  const std::string ind =
      w && w->is_string() ? w->text() : std::string(size_t(w ? w->as_int() : 4), ' ');
  const bool first = flag(a, 1, "first"), blank = flag(a, 2, "blank");
  Value s = Value::string(to_str(v) + "\n");
  std::vector<Value> lines = iterate(call_method(s, "splitlines"));
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i].text();
    if (i == 0)
      out = l;
    else
      out += "\n" + ((blank || !l.empty()) ? ind + l : l);
  }
  if (first) out = ind + out;
  return derived(std::move(out), {&v});
}
// printf-style "%s %d %r %i %f %%" (the format filter and str % args).
Value f_format(const Value& v, CallArgs& a) {
  const std::string& t = to_str(v);
  std::string out;
  size_t k = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '%') {
      out += t[i];
      continue;
    }
    if (++i >= t.size()) fail("incomplete format");
    const char c = t[i];
    if (c == '%') {
      out += '%';
      continue;
    }
    if (k >= a.pos.size()) fail("not enough arguments for format string");
    const Value& x = a.pos[k++];
    if (c == 's')
      out += to_str(x);
    else if (c == 'r')
      out += to_repr(x);
    else if (c == 'd' || c == 'i')
      out += std::to_string(x.is_float() ? int64_t(x.as_float()) : x.as_int());
    else if (c == 'f')
      out += std::to_string(x.as_float());
    else
      fail(std::string("unsupported format character '") + c + "'");
  }
  if (k < a.pos.size()) fail("not all arguments converted during string formatting");
  bool c = has_content(v);
  for (const Value& x : a.pos) c = c || has_content(x);
  return Value::string(std::move(out), c);
}
Value f_attr(const Value& v, CallArgs& a) {
  if (a.pos.empty()) fail("attr needs a name");
  return get_attr(v, to_str(a.pos[0]));
}
Value f_wordcount(const Value& v, CallArgs&) {
  return Value::integer(int64_t(call_method(str_of(v), "split").list_data().items.size()));
}

const std::map<std::string, Filter>& filters() {
  static const std::map<std::string, Filter> f = {
      {"trim", f_trim},
      {"upper", f_upper},
      {"lower", f_lower},
      {"capitalize", f_capitalize},
      {"title", f_title},
      {"length", f_length},
      {"count", f_length},
      {"first", f_first},
      {"last", f_last},
      {"join", f_join},
      {"default", f_default},
      {"d", f_default},
      {"replace", f_replace},
      {"list", f_list},
      {"string", f_string},
      {"int", f_int},
      {"float", f_float},
      {"abs", f_abs},
      {"round", f_round},
      {"tojson", f_tojson},
      {"items", f_items},
      {"safe", f_safe},
      {"escape", f_escape},
      {"e", f_escape},
      {"forceescape", f_escape},
      {"map", f_map},
      {"select", f_select},
      {"reject", f_reject},
      {"selectattr", f_selectattr},
      {"rejectattr", f_rejectattr},
      {"unique", f_unique},
      {"sort", f_sort},
      {"dictsort", f_dictsort},
      {"reverse", f_reverse},
      {"sum", f_sum},
      {"min", f_min},
      {"max", f_max},
      {"indent", f_indent},
      {"format", f_format},
      {"attr", f_attr},
      {"wordcount", f_wordcount},
  };
  return f;
}

}  // namespace

bool has_filter(const std::string& name) {
  return filters().count(name) > 0;
}

Value call_filter(const std::string& name, const Value& subject, CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) fail("No filter named '" + name + "'.");
  return it->second(subject, args);
}

}  // namespace lmforge::jinja
