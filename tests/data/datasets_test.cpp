// Typed JSONL dataset readers: good lines parse into the right structs; every malformed line
// gives the exact file:line: field 'F': message text.
#include "lmforge/data/datasets.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "support/tmp_files.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {

// The error a reader gives for `content`, with the temp directory cut off the file name.
template <typename Reader>
std::string error_of(Reader reader, const std::string& content) {
  fs::path p = write_tmp("train.jsonl", content);
  try {
    reader(p);
  } catch (const InputError& e) {
    std::string s = e.what();
    const std::string prefix = p.parent_path().string() + "/";
    if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
    return s;
  }
  return "(no InputError)";
}
}  // namespace

TEST(Datasets, Text) {
  auto ex = read_text_jsonl(write_tmp("t.jsonl",
                                      "{\"text\": \"hello\", \"id\": 3}\n\n{\"text\": "
                                      "\"wörld\\n\"}\n"));
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].text, "hello");
  EXPECT_EQ(ex[1].text, "wörld\n");
  EXPECT_EQ(ex[1].line, 3);
  EXPECT_EQ(error_of(read_text_jsonl, "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n"),
            "train.jsonl:2: field 'text': missing");
  EXPECT_EQ(error_of(read_text_jsonl, "{\"text\": 5}\n"),
            "train.jsonl:1: field 'text': expected a string, got number");
  EXPECT_EQ(error_of(read_text_jsonl, "{\"text\": \"\"}\n"),
            "train.jsonl:1: field 'text': is empty (hint: an example needs text to learn from)");
  EXPECT_EQ(error_of(read_text_jsonl, "\n  \n"),
            "train.jsonl: no examples (the file has no non-empty lines) (hint: expected one JSON "
            "object per line: {\"text\": ...})");
}

TEST(Datasets, PromptCompletionAndAlpaca) {
  auto ex = read_prompt_completion_jsonl(
      write_tmp("pc.jsonl",
                "{\"prompt\": \"2+2=\", \"completion\": \"4\"}\n"
                "{\"instruction\": \"Translate\", \"input\": \"chat\", \"output\": \"cat\"}\n"
                "{\"instruction\": \"Say hi\", \"input\": \"\", \"output\": \"hi\"}\n"
                "{\"instruction\": \"Say bye\", \"output\": \"bye\"}\n"));
  ASSERT_EQ(ex.size(), 4u);
  EXPECT_EQ(ex[0].prompt, "2+2=");
  EXPECT_EQ(ex[0].completion, "4");
  EXPECT_EQ(ex[1].prompt, "Translate\n\nchat");
  EXPECT_EQ(ex[1].completion, "cat");
  EXPECT_EQ(ex[2].prompt, "Say hi");
  EXPECT_EQ(ex[3].prompt, "Say bye");
  EXPECT_EQ(ex[3].line, 4);
  EXPECT_EQ(error_of(read_prompt_completion_jsonl, "{\"prompt\": \"a\"}\n"),
            "train.jsonl:1: field 'completion': missing");
  EXPECT_EQ(error_of(read_prompt_completion_jsonl, "{\"prompt\": \"a\", \"completion\": [\"b\"]}"),
            "train.jsonl:1: field 'completion': expected a string, got array");
  EXPECT_EQ(error_of(read_prompt_completion_jsonl,
                     "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"instruction\": \"x\", "
                     "\"input\": 1, \"output\": \"y\"}"),
            "train.jsonl:2: field 'input': expected a string, got number");
  EXPECT_EQ(error_of(read_prompt_completion_jsonl, "{\"instruction\": \"x\", \"output\": \"\"}"),
            "train.jsonl:1: field 'output': is empty (hint: an example needs text to learn from)");
  EXPECT_EQ(error_of(read_prompt_completion_jsonl, "{\"question\": \"x\"}"),
            "train.jsonl:1: field 'prompt': missing (hint: expected {\"prompt\": ..., "
            "\"completion\": ...} or Alpaca {\"instruction\": ..., \"input\": ..., \"output\": "
            "...})");
}

TEST(Datasets, Chat) {
  auto ex = read_chat_jsonl(write_tmp(
      "c.jsonl",
      "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", "
      "\"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}]}\n"));
  ASSERT_EQ(ex.size(), 1u);
  ASSERT_EQ(ex[0].messages.size(), 3u);
  EXPECT_EQ(ex[0].messages[0].role, "system");
  EXPECT_EQ(ex[0].messages[2].content, "Hello!");
  const std::string good =
      "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", "
      "\"content\": \"b\"}]}\n";
  EXPECT_EQ(error_of(read_chat_jsonl,
                     good + "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": "
                            "\"assistant\", \"content\": \"b\"}, {\"role\": \"bot\", \"content\": "
                            "\"c\"}]}\n"),
            "train.jsonl:2: field 'messages[2].role': expected one of system, user, assistant, "
            "got \"bot\"");
  EXPECT_EQ(error_of(read_chat_jsonl, "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}"),
            "train.jsonl:1: field 'messages': has no assistant turn (hint: instruction tuning "
            "learns the assistant's replies; add at least one message with \"role\": "
            "\"assistant\")");
  EXPECT_EQ(error_of(read_chat_jsonl, "{\"messages\": [{\"role\": \"assistant\"}]}"),
            "train.jsonl:1: field 'messages[0].content': missing");
  EXPECT_EQ(
      error_of(read_chat_jsonl, "{\"messages\": [{\"role\": \"assistant\", \"content\": null}]}"),
      "train.jsonl:1: field 'messages[0].content': expected a string, got null");
  EXPECT_EQ(error_of(read_chat_jsonl, "{\"messages\": [\"hi\"]}"),
            "train.jsonl:1: field 'messages[0]': expected an object {\"role\", \"content\"}, got "
            "string");
  EXPECT_EQ(error_of(read_chat_jsonl, "{\"messages\": {}}"),
            "train.jsonl:1: field 'messages': expected an array, got object");
  EXPECT_EQ(error_of(read_chat_jsonl, "{\"messages\": []}"),
            "train.jsonl:1: field 'messages': is empty (hint: expected {\"messages\": [{\"role\": "
            "\"user\", \"content\": ...}, {\"role\": \"assistant\", \"content\": ...}]})");
  EXPECT_EQ(error_of(read_chat_jsonl, "{\"text\": \"hi\"}"),
            "train.jsonl:1: field 'messages': missing");
  EXPECT_EQ(error_of(read_chat_jsonl, "{\"messages\": [{\"role\": \"assistant\", \"content\": \"b"),
            "train.jsonl:1: invalid JSON at column 50: syntax error while parsing value - invalid "
            "string: missing closing quote; last read: '\"b' (hint: each line must hold one "
            "complete JSON object)");
}

TEST(Datasets, Rankings) {
  auto ex = read_rankings_jsonl(
      write_tmp("r.jsonl",
                "{\"prompt\": \"p\", \"responses\": [\"best\", \"mid\", \"worst\"]}\n"
                "{\"prompt\": \"q\", \"chosen\": \"good\", \"rejected\": \"bad\"}\n"));
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].responses, (std::vector<std::string>{"best", "mid", "worst"}));
  EXPECT_EQ(ex[1].prompt, "q");
  EXPECT_EQ(ex[1].responses, (std::vector<std::string>{"good", "bad"}));
  EXPECT_EQ(error_of(read_rankings_jsonl, "{\"prompt\": \"p\", \"responses\": [\"only\"]}"),
            "train.jsonl:1: field 'responses': expected at least 2 responses (best first), got 1 "
            "(hint: a ranking compares two or more responses to the same prompt)");
  EXPECT_EQ(error_of(read_rankings_jsonl, "{\"prompt\": \"p\", \"responses\": [\"a\", 2]}"),
            "train.jsonl:1: field 'responses[1]': expected a string, got number");
  EXPECT_EQ(error_of(read_rankings_jsonl, "{\"prompt\": \"p\", \"chosen\": \"a\"}"),
            "train.jsonl:1: field 'rejected': missing");
  EXPECT_EQ(error_of(read_rankings_jsonl, "{\"chosen\": \"a\", \"rejected\": \"b\"}"),
            "train.jsonl:1: field 'prompt': missing");
  EXPECT_EQ(error_of(read_rankings_jsonl, "{\"prompt\": \"p\"}"),
            "train.jsonl:1: field 'responses': missing (hint: expected {\"prompt\": ..., "
            "\"responses\": [best, ..., worst]} or {\"prompt\": ..., \"chosen\": ..., "
            "\"rejected\": ...})");
}

TEST(Datasets, Prompts) {
  auto ex = read_prompts_jsonl(write_tmp("p.jsonl", "{\"prompt\": \"Tell me a story\"}\n"));
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].prompt, "Tell me a story");
  EXPECT_EQ(error_of(read_prompts_jsonl, "{\"prompt\": \"a\"}\n{\"prompt\": false}\n"),
            "train.jsonl:2: field 'prompt': expected a string, got boolean");
}
