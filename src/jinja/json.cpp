// Values as text: Python's str() and repr() (what {{ v }} prints), json.dumps as transformers'
// tojson calls it (ensure_ascii, indent, separators, sort_keys; Python's float repr), and JSON
// documents read into values. Not here: the values themselves (jinja_value.cpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "jinja/internal.h"

namespace lmforge::jinja {

namespace {

std::string str_repr(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == (unsigned char)q)
      out += std::string("\\") + char(q);
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += char(c);
    }
  }
  return out + q;
}

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = (unsigned char)s[i];
    if (c == '"')
      out += "\\\"", ++i;
    else if (c == '\\')
      out += "\\\\", ++i;
    else if (c == '\n')
      out += "\\n", ++i;
    else if (c == '\r')
      out += "\\r", ++i;
    else if (c == '\t')
      out += "\\t", ++i;
    else if (c == '\b')
      out += "\\b", ++i;
    else if (c == '\f')
      out += "\\f", ++i;
    else if (c < 0x20 || (ensure_ascii && c == 0x7f)) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
      ++i;
    } else if (c < 0x80 || !ensure_ascii) {
      out += char(c);
      ++i;
    } else {
      uint32_t cp = decode_at(s, i);
      char b[16];
      if (cp >= 0x10000) {
        cp -= 0x10000;
        std::snprintf(b, sizeof b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
      } else {
        std::snprintf(b, sizeof b, "\\u%04x", cp);
      }
      out += b;
    }
  }
  out += '"';
}

struct JsonOpts {
  bool ascii;
  int indent;
  std::string item_sep, key_sep;
  bool sort;
};

void json_value(std::string& out, const Value& v, const JsonOpts& o, int depth) {
  auto newline = [&](int d) {
    if (o.indent >= 0) out += "\n" + std::string(size_t(o.indent) * size_t(d), ' ');
  };
  switch (v.kind()) {
    case Value::Kind::kNone:
      out += "null";
      return;
    case Value::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::kFloat: {
      const double d = v.as_float();
      out += std::isnan(d)   ? "NaN"
             : std::isinf(d) ? (d < 0 ? "-Infinity" : "Infinity")
                             : float_repr(d);
      return;
    }
    case Value::Kind::kString:
      json_string(out, v.text(), o.ascii);
      return;
    case Value::Kind::kList: {
      const auto& items = v.list_data().items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_sep;
        newline(depth + 1);
        json_value(out, items[i], o, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Value::Kind::kDict: {
      std::vector<std::pair<std::string, const Value*>> items;
      for (const auto& [k, x] : v.dict_data().items) {
        std::string key;
        if (k.is_string())
          key = k.text();
        else if (k.is_none())
          key = "null";
        else if (k.is_bool())
          key = k.as_bool() ? "true" : "false";
        else if (k.is_int() || k.is_float())
          key = to_str(k);
        else
          fail("keys must be str, int, float, bool or None, not " + type_name(k));
        items.emplace_back(key, &x);
      }
      if (o.sort)
        std::stable_sort(items.begin(), items.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
      if (items.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_sep;
        newline(depth + 1);
        json_string(out, items[i].first, o.ascii);
        out += o.key_sep;
        json_value(out, *items[i].second, o, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
    default:
      fail("Object of type " + type_name(v) + " is not JSON serializable");
  }
}

}  // namespace

std::string to_repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString:
      return str_repr(v.text());
    case Value::Kind::kList: {
      const auto& l = v.list_data();
      std::string out = l.tuple ? "(" : "[";
      for (size_t i = 0; i < l.items.size(); ++i) out += (i ? ", " : "") + to_repr(l.items[i]);
      if (l.tuple && l.items.size() == 1) out += ",";
      return out + (l.tuple ? ")" : "]");
    }
    case Value::Kind::kDict: {
      const auto& d = v.dict_data();
      std::string out = d.is_namespace ? "<Namespace {" : "{";
      for (size_t i = 0; i < d.items.size(); ++i)
        out += (i ? ", " : "") + to_repr(d.items[i].first) + ": " + to_repr(d.items[i].second);
      return out + (d.is_namespace ? "}>" : "}");
    }
    default:
      return to_str(v);
  }
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "";
    case Value::Kind::kNone:
      return "None";
    case Value::Kind::kBool:
      return v.as_bool() ? "True" : "False";
    case Value::Kind::kInt:
      return std::to_string(v.as_int());
    case Value::Kind::kFloat:
      return float_repr(v.as_float());
    case Value::Kind::kString:
      return v.text();
    case Value::Kind::kFunction:
      return "<function " + v.function_name() + ">";
    default:
      return to_repr(v);
  }
}

std::string to_json(const Value& v, bool ensure_ascii, int indent, const std::string& item_sep,
                    const std::string& key_sep, bool sort_keys) {
  JsonOpts o{ensure_ascii, indent, item_sep, key_sep, sort_keys};
  if (o.item_sep.empty()) o.item_sep = indent >= 0 ? "," : ", ";
  if (o.key_sep.empty()) o.key_sep = ": ";
  std::string out;
  json_value(out, v, o, 0);
  return out;
}

namespace {

Value from_json(const nlohmann::ordered_json& j, bool c) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
    case nlohmann::ordered_json::value_t::number_unsigned:
      return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_float:
      return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::string(j.get<std::string>(), c);
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      for (const auto& x : j) items.push_back(from_json(x, c));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value d = Value::dict();
      for (const auto& [k, x] : j.items()) d.dict_data().set(Value::string(k, c), from_json(x, c));
      return d;
    }
    default:
      return Value();
  }
}

}  // namespace

Value parse_json(std::string_view json, bool from_content) {
  try {
    return from_json(nlohmann::ordered_json::parse(json), from_content);
  } catch (const nlohmann::json::exception& e) {
    throw InputError("json", 0, "", std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace lmforge::jinja
