// Schema validation for the JSONL dataset readers (see datasets.h).
// Not here: line reading and error locations (jsonl.cpp).
#include "lmforge/data/datasets.h"

#include "lmforge/core/error.h"
#include "lmforge/data/jsonl.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// Reads every object of a JSONL file through `parse`, which turns one object into an example.
template <typename Example, typename Parse>
std::vector<Example> read_all(const fs::path& path, const char* schema, Parse parse) {
  std::vector<Example> out;
  JsonlReader reader(path);
  json obj;
  while (reader.next(obj)) {
    Example ex = parse(obj, reader.location());
    ex.line = reader.location().line;
    out.push_back(std::move(ex));
  }
  if (out.empty())
    throw InputError(reader.location().file, 0, "", "no examples (the file has no non-empty lines)",
                     std::string("expected one JSON object per line: ") + schema);
  return out;
}

void require_non_empty(const std::string& s, const JsonlLocation& at, const std::string& field) {
  if (s.empty()) at.fail(field, "is empty", "an example needs text to learn from");
}

constexpr const char* kTextSchema = "{\"text\": ...}";
constexpr const char* kPromptCompletionSchema =
    "{\"prompt\": ..., \"completion\": ...} or Alpaca {\"instruction\": ..., \"input\": ..., "
    "\"output\": ...}";
constexpr const char* kChatSchema =
    "{\"messages\": [{\"role\": \"user\", \"content\": ...}, {\"role\": \"assistant\", "
    "\"content\": ...}]}";
constexpr const char* kRankingsSchema =
    "{\"prompt\": ..., \"responses\": [best, ..., worst]} or {\"prompt\": ..., \"chosen\": ..., "
    "\"rejected\": ...}";
constexpr const char* kPromptsSchema = "{\"prompt\": ...}";
}  // namespace

std::vector<TextExample> read_text_jsonl(const fs::path& path) {
  return read_all<TextExample>(path, kTextSchema, [](const json& obj, const JsonlLocation& at) {
    TextExample ex;
    ex.text = at.required_string(obj, "text");
    require_non_empty(ex.text, at, "text");
    return ex;
  });
}

std::vector<PromptCompletionExample> read_prompt_completion_jsonl(const fs::path& path) {
  return read_all<PromptCompletionExample>(
      path, kPromptCompletionSchema, [](const json& obj, const JsonlLocation& at) {
        PromptCompletionExample ex;
        if (obj.contains("prompt") || obj.contains("completion")) {
          ex.prompt = at.required_string(obj, "prompt");
          ex.completion = at.required_string(obj, "completion");
          require_non_empty(ex.completion, at, "completion");
        } else if (obj.contains("instruction") || obj.contains("output")) {
          ex.prompt = at.required_string(obj, "instruction");
          std::string input = at.optional_string(obj, "input");
          if (!input.empty()) ex.prompt += "\n\n" + input;
          ex.completion = at.required_string(obj, "output");
          require_non_empty(ex.completion, at, "output");
        } else {
          at.fail("prompt", "missing", std::string("expected ") + kPromptCompletionSchema);
        }
        return ex;
      });
}

std::vector<ChatExample> read_chat_jsonl(const fs::path& path) {
  return read_all<ChatExample>(path, kChatSchema, [](const json& obj, const JsonlLocation& at) {
    ChatExample ex;
    const json& messages = at.required_array(obj, "messages");
    if (messages.empty()) at.fail("messages", "is empty", std::string("expected ") + kChatSchema);
    bool has_assistant = false;
    for (size_t i = 0; i < messages.size(); ++i) {
      const std::string p = "messages[" + std::to_string(i) + "]";
      const json& m = messages[i];
      if (!m.is_object())
        at.fail(p, std::string("expected an object {\"role\", \"content\"}, got ") + m.type_name());
      ChatMessage msg;
      msg.role = at.required_string(m, "role", p + ".role");
      if (msg.role != "system" && msg.role != "user" && msg.role != "assistant")
        at.fail(p + ".role",
                "expected one of system, user, assistant, got " + describe_json(m["role"]));
      msg.content = at.required_string(m, "content", p + ".content");
      has_assistant = has_assistant || msg.role == "assistant";
      ex.messages.push_back(std::move(msg));
    }
    if (!has_assistant)
      at.fail("messages", "has no assistant turn",
              "instruction tuning learns the assistant's replies; add at least one message with "
              "\"role\": \"assistant\"");
    return ex;
  });
}

std::vector<RankingExample> read_rankings_jsonl(const fs::path& path) {
  return read_all<RankingExample>(
      path, kRankingsSchema, [](const json& obj, const JsonlLocation& at) {
        RankingExample ex;
        ex.prompt = at.required_string(obj, "prompt");
        if (obj.contains("responses")) {
          const json& rs = at.required_array(obj, "responses");
          if (rs.size() < 2)
            at.fail("responses",
                    "expected at least 2 responses (best first), got " + std::to_string(rs.size()),
                    "a ranking compares two or more responses to the same prompt");
          for (size_t i = 0; i < rs.size(); ++i)
            ex.responses.push_back(at.expect_string(rs[i], "responses[" + std::to_string(i) + "]"));
        } else if (obj.contains("chosen") || obj.contains("rejected")) {
          ex.responses.push_back(at.required_string(obj, "chosen"));
          ex.responses.push_back(at.required_string(obj, "rejected"));
        } else {
          at.fail("responses", "missing", std::string("expected ") + kRankingsSchema);
        }
        if (obj.contains("ties")) {
          const json& ts = at.required_array(obj, "ties");
          for (const json& g : ts) {
            if (!g.is_array() || g.size() < 2)
              at.fail("ties", "each tie is an array of at least 2 response indices");
            std::vector<size_t> group;
            for (const json& k : g) {
              if (!k.is_number_unsigned() || k.get<size_t>() >= ex.responses.size() ||
                  (!group.empty() && k.get<size_t>() != group.back() + 1))
                at.fail("ties", "indices must be consecutive positions of \"responses\" (0-based)");
              group.push_back(k.get<size_t>());
            }
            ex.ties.push_back(std::move(group));
          }
        }
        return ex;
      });
}

std::vector<PromptExample> read_prompts_jsonl(const fs::path& path) {
  return read_all<PromptExample>(path, kPromptsSchema,
                                 [](const json& obj, const JsonlLocation& at) {
                                   PromptExample ex;
                                   ex.prompt = at.required_string(obj, "prompt");
                                   require_non_empty(ex.prompt, at, "prompt");
                                   return ex;
                                 });
}

}  // namespace lmforge
