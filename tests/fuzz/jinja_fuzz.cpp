// libFuzzer target for the chat-template engine (jinja::Template::parse + render): a model
// downloaded from anywhere brings its own template, so every input must either render or be
// refused with an InputError (syntax or render error) or a RaisedError (raise_exception); a crash,
// an ASan/UBSan report, another exception type or a hang is a bug. The template renders against
// two fixed contexts, so both sides of the branches templates take are reached: a conversation with
// a system, user, assistant (tool calls) and tool turn, tools, a generation prompt and the usual
// variables; and a bare user/assistant exchange with no tools, no generation prompt and no
// special-token variables (what `is defined` tests and the `default` filter see as missing).
// Not a unit test: tests/fuzz/fuzz.cmake builds it with clang -fsanitize=fuzzer,address.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "lmforge/core/error.h"
#include "lmforge/jinja/jinja.h"

namespace {
constexpr std::string_view kVars = R"({
  "messages": [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hi <|im_end|> {{ x }}"},
    {"role": "assistant", "content": "Hello.", "tool_calls": [
      {"type": "function", "function": {"name": "f", "arguments": {"a": 1, "b": [true, null]}}}]},
    {"role": "tool", "content": "42"},
    {"role": "user", "content": [{"type": "text", "text": "parts"}]}
  ],
  "tools": [{"type": "function", "function": {"name": "f", "description": "d",
             "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}],
  "add_generation_prompt": true,
  "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": null
})";
constexpr std::string_view kBareVars = R"({
  "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}],
  "add_generation_prompt": false
})";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const lmforge::jinja::Value contexts[] = {lmforge::jinja::parse_json(kVars, true),
                                                   lmforge::jinja::parse_json(kBareVars, true)};
  const std::string source(reinterpret_cast<const char*>(data), size);  // exact-size heap copy
  std::optional<lmforge::jinja::Template> t;
  try {
    t.emplace(lmforge::jinja::Template::parse(source, "fuzz.jinja"));
  } catch (const lmforge::InputError&) {
    return 0;
  }
  for (const auto& vars : contexts) {
    try {
      const auto r = t->render(vars);
      for (const auto& span : r.content)
        if (span.begin > span.end || span.end > r.text.size()) std::abort();  // spans stay inside
    } catch (const lmforge::InputError&) {
    } catch (const lmforge::UsageError&) {  // RaisedError: the template refused the conversation
    }
  }
  return 0;
}
