// JSONL reading with errors that always say where: every failure is an InputError naming the
// file, the 1-based line number and (when there is one) the field, e.g.
//   train.jsonl:17: field 'messages[2].role': expected one of system, user, assistant, got "bot"
// Empty and whitespace-only lines are skipped; a UTF-8 byte order mark and "\r\n" line ends are
// accepted. Lines are streamed, so files larger than memory are fine.
// Not here: the meaning of any schema (datasets.h), tokenization.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lmforge {

// Where a JSON value came from; builds the errors for it.
struct JsonlLocation {
  std::string file;
  int64_t line = 0;

  [[noreturn]] void fail(const std::string& field, const std::string& message,
                         const std::string& hint = "") const;

  // Member `key` of obj as a string. Missing: "missing"; other types: "expected a string, got
  // number". `path` is the field name used in errors (defaults to key).
  const std::string& required_string(const nlohmann::json& obj, const std::string& key,
                                     const std::string& path = "") const;
  // Like required_string, but a missing key or null returns `fallback`.
  std::string optional_string(const nlohmann::json& obj, const std::string& key,
                              const std::string& fallback = "", const std::string& path = "") const;
  // A member that must be an array (possibly empty).
  const nlohmann::json& required_array(const nlohmann::json& obj, const std::string& key,
                                       const std::string& path = "") const;
  // v itself must be a string.
  const std::string& expect_string(const nlohmann::json& v, const std::string& path) const;
};

// Short human rendering of a JSON value for messages: strings quoted, long values cut with "...".
std::string describe_json(const nlohmann::json& v, size_t max_chars = 40);

// Parses one line. Invalid JSON: InputError(file, line, "", "invalid JSON at column C: <parser
// message>"); anything but an object: "expected a JSON object, got array".
nlohmann::json parse_jsonl_line(std::string_view text, const JsonlLocation& where);

// Streams the objects of a JSONL file in order.
class JsonlReader {
 public:
  // `display_name` is used in errors (defaults to path as given). InputError if it cannot open.
  explicit JsonlReader(const std::filesystem::path& path, std::string display_name = "");
  // Reads the next non-empty line into obj; false at end of file.
  bool next(nlohmann::json& obj);
  // Like next(), but hands out the raw line (without the line end) instead of parsing it.
  bool next_line(std::string& line);
  // Location of the line last returned.
  const JsonlLocation& location() const { return where_; }
  // Bytes consumed so far (for progress).
  uint64_t bytes_read() const { return bytes_; }

 private:
  std::ifstream in_;
  JsonlLocation where_;
  int64_t next_line_ = 1;
  uint64_t bytes_ = 0;
};

// Calls fn(obj, location) for every object of the file.
void for_each_jsonl(const std::filesystem::path& path,
                    const std::function<void(const nlohmann::json&, const JsonlLocation&)>& fn);

}  // namespace lmforge
