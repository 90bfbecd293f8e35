// JSONL line reader and field accessors that report file:line:field (see jsonl.h).
// Not here: schemas (datasets.cpp).
#include "lmforge/data/jsonl.h"

#include "lmforge/core/error.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

// nlohmann's what() reads "[json.exception.parse_error.101] parse error at line 1, column 5:
// <details>"; we keep only <details> and put our own location in front.
std::string parser_details(const std::string& what) {
  size_t col = what.find("column ");
  size_t colon = col == std::string::npos ? std::string::npos : what.find(": ", col);
  if (colon != std::string::npos) return what.substr(colon + 2);
  size_t bracket = what.find("] ");
  return bracket == std::string::npos ? what : what.substr(bracket + 2);
}
}  // namespace

void JsonlLocation::fail(const std::string& field, const std::string& message,
                         const std::string& hint) const {
  throw InputError(file, line, field, message, hint);
}

const std::string& JsonlLocation::expect_string(const json& v, const std::string& path) const {
  if (!v.is_string()) fail(path, std::string("expected a string, got ") + v.type_name());
  return v.get_ref<const std::string&>();
}

const std::string& JsonlLocation::required_string(const json& obj, const std::string& key,
                                                  const std::string& path) const {
  const std::string& name = path.empty() ? key : path;
  auto it = obj.find(key);
  if (it == obj.end()) fail(name, "missing");
  return expect_string(*it, name);
}

std::string JsonlLocation::optional_string(const json& obj, const std::string& key,
                                           const std::string& fallback,
                                           const std::string& path) const {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  return expect_string(*it, path.empty() ? key : path);
}

const json& JsonlLocation::required_array(const json& obj, const std::string& key,
                                          const std::string& path) const {
  const std::string& name = path.empty() ? key : path;
  auto it = obj.find(key);
  if (it == obj.end()) fail(name, "missing");
  if (!it->is_array()) fail(name, std::string("expected an array, got ") + it->type_name());
  return *it;
}

std::string describe_json(const json& v, size_t max_chars) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

json parse_jsonl_line(std::string_view text, const JsonlLocation& where) {
  // A whole-file JSON array (as many datasets ship) is the commonest wrong input: say so.
  const size_t first = text.find_first_not_of(" \t");
  const bool array_file = where.line == 1 && first != std::string_view::npos && text[first] == '[';
  const std::string hint =
      array_file ? "this looks like a JSON array; lmforge reads JSON Lines, one object per line "
                   "(convert with: jq -c '.[]' FILE > FILE.jsonl)"
                 : "each line must hold one complete JSON object";
  json obj;
  try {
    obj = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    where.fail("",
               "invalid JSON at column " + std::to_string(e.byte) + ": " + parser_details(e.what()),
               hint);
  }
  if (!obj.is_object())
    where.fail("", std::string("expected a JSON object, got ") + obj.type_name(), hint);
  return obj;
}

JsonlReader::JsonlReader(const fs::path& path, std::string display_name)
    : in_(path, std::ios::binary) {
  where_.file = display_name.empty() ? path.string() : std::move(display_name);
  if (!in_)
    throw InputError(where_.file, 0, "", "cannot read file",
                     fs::exists(path) ? "check its permissions" : "check that it exists");
}

bool JsonlReader::next_line(std::string& line) {
  while (std::getline(in_, line)) {
    bytes_ += line.size() + 1;
    where_.line = next_line_++;
    if (where_.line == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!is_blank(line)) return true;
  }
  if (in_.bad()) throw InputError(where_.file, next_line_, "", "read error");
  return false;
}

bool JsonlReader::next(json& obj) {
  std::string line;
  if (!next_line(line)) return false;
  obj = parse_jsonl_line(line, where_);
  return true;
}

void for_each_jsonl(const fs::path& path,
                    const std::function<void(const json&, const JsonlLocation&)>& fn) {
  JsonlReader reader(path);
  json obj;
  while (reader.next(obj)) fn(obj, reader.location());
}

}  // namespace lmforge
