// JSONL line reading: line numbers across blank lines, BOM and CRLF, exact parser errors.
#include "lmforge/data/jsonl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "support/tmp_files.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {

std::string error_of(const fs::path& p) {
  try {
    for_each_jsonl(p, [](const nlohmann::json&, const JsonlLocation&) {});
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}
}  // namespace

TEST(Jsonl, LineNumbersSkipBlankLinesBomAndCrlf) {
  fs::path p = write_tmp("ok.jsonl", "\xEF\xBB\xBF{\"a\": 1}\r\n\n   \r\n{\"a\": 2}\n{\"a\": 3}");
  std::vector<std::pair<int, int64_t>> seen;
  for_each_jsonl(p, [&](const nlohmann::json& o, const JsonlLocation& at) {
    seen.emplace_back(o["a"].get<int>(), at.line);
    EXPECT_EQ(at.file, p.string());
  });
  EXPECT_EQ(seen, (std::vector<std::pair<int, int64_t>>{{1, 1}, {2, 4}, {3, 5}}));
}

TEST(Jsonl, InvalidJsonNamesLineAndColumn) {
  fs::path p = write_tmp("bad.jsonl", "{\"a\": 1}\n\n{\"a\": tru}\n");
  EXPECT_EQ(error_of(p),
            p.string() +
                ":3: invalid JSON at column 10: syntax error while parsing value - "
                "invalid literal; last read: '\"a\": tru}' (hint: each line must hold one "
                "complete JSON object)");
  p = write_tmp("trunc.jsonl", "{\"text\": \"abc\n");
  EXPECT_EQ(error_of(p), p.string() +
                             ":1: invalid JSON at column 14: syntax error while parsing value - "
                             "invalid string: missing closing quote; last read: '\"abc' (hint: "
                             "each line must hold one complete JSON object)");
  p = write_tmp("badutf8.jsonl", "{\"text\": \"a\xff\"}\n");
  EXPECT_EQ(error_of(p), p.string() +
                             ":1: invalid JSON at column 12: syntax error while parsing value - "
                             "invalid string: ill-formed UTF-8 byte; last read: '\"a\xFF' (hint: "
                             "each line must hold one complete JSON object)");
}

TEST(Jsonl, NonObjectLinesAndMissingFile) {
  fs::path p = write_tmp("arr.jsonl", "{}\n[1, 2]\n");
  EXPECT_EQ(error_of(p), p.string() +
                             ":2: expected a JSON object, got array (hint: each line "
                             "must hold one complete JSON object)");
  p = write_tmp("array.json", "[\n  {\"text\": \"a\"},\n  {\"text\": \"b\"}\n]\n");
  EXPECT_EQ(error_of(p), p.string() +
                             ":1: invalid JSON at column 2: syntax error while parsing value - "
                             "unexpected end of input; expected '[', '{', or a literal (hint: "
                             "this looks like a JSON array; lmforge reads JSON Lines, one object "
                             "per line (convert with: jq -c '.[]' FILE > FILE.jsonl))");
  p = write_tmp("array1.json", "[{\"text\": \"a\"}]\n");
  EXPECT_EQ(error_of(p), p.string() +
                             ":1: expected a JSON object, got array (hint: this looks like a JSON "
                             "array; lmforge reads JSON Lines, one object per line (convert with: "
                             "jq -c '.[]' FILE > FILE.jsonl))");
  EXPECT_EQ(error_of(p.parent_path() / "nope.jsonl"),
            (p.parent_path() / "nope.jsonl").string() +
                ": cannot read file (hint: check that it exists)");
}

TEST(Jsonl, FieldAccessorsNameTheField) {
  JsonlLocation at{"f.jsonl", 7};
  auto obj = nlohmann::json::parse(R"({"s": "x", "n": 3, "a": [1], "z": null})");
  EXPECT_EQ(at.required_string(obj, "s"), "x");
  EXPECT_EQ(at.optional_string(obj, "missing", "dflt"), "dflt");
  EXPECT_EQ(at.optional_string(obj, "z", "dflt"), "dflt");
  EXPECT_EQ(at.required_array(obj, "a").size(), 1u);
  auto text = [&](auto fn) {
    try {
      fn();
    } catch (const InputError& e) {
      EXPECT_EQ(e.line(), 7);
      return std::string(e.what());
    }
    return std::string("(no InputError)");
  };
  EXPECT_EQ(text([&] { at.required_string(obj, "q"); }), "f.jsonl:7: field 'q': missing");
  EXPECT_EQ(text([&] { at.required_string(obj, "n", "x.n"); }),
            "f.jsonl:7: field 'x.n': expected a string, got number");
  EXPECT_EQ(text([&] { at.required_array(obj, "s"); }),
            "f.jsonl:7: field 's': expected an array, got string");
  EXPECT_EQ(describe_json(std::string(100, 'a'), 10), "\"aaaaaaaaa...");
}
