// Typed readers for the JSONL dataset schemas of docs/DATA_FORMATS.md (those TRL and OpenAI use):
//   text               {"text": str}
//   prompt/completion  {"prompt": str, "completion": str}
//                      or Alpaca {"instruction": str, "input": str (optional), "output": str}
//   chat               {"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}
//   rankings           {"prompt": str, "responses": [best, ..., worst]} (at least 2)
//                      or {"prompt": str, "chosen": str, "rejected": str}
//   prompts (PPO)      {"prompt": str}
// Each reader validates every line and throws InputError naming file:line and the field (see
// jsonl.h); empty lines are skipped; extra keys are ignored (datasets often carry ids, sources);
// a file without any example is an error. Every example remembers its line for later messages.
// Not here: chat templates and loss masks (the chat template renderer), tokenization.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lmforge {

struct TextExample {
  std::string text;
  int64_t line = 0;
};

struct PromptCompletionExample {
  // Alpaca lines become prompt = instruction, or instruction + "\n\n" + input when input is
  // non-empty, and completion = output; the template decides any further formatting.
  std::string prompt, completion;
  int64_t line = 0;
};

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

struct ChatExample {
  std::vector<ChatMessage> messages;  // at least one assistant turn
  int64_t line = 0;
};

struct RankingExample {
  std::string prompt;
  std::vector<std::string> responses;  // best first; {"chosen","rejected"} -> {chosen, rejected}
  // "ties": groups of indices into responses that the ranker could not tell apart (as `label
  // export` and `demo rank` write them); each group is consecutive in the order.
  std::vector<std::vector<size_t>> ties;
  int64_t line = 0;
};

struct PromptExample {
  std::string prompt;
  int64_t line = 0;
};

std::vector<TextExample> read_text_jsonl(const std::filesystem::path& path);
std::vector<PromptCompletionExample> read_prompt_completion_jsonl(
    const std::filesystem::path& path);
std::vector<ChatExample> read_chat_jsonl(const std::filesystem::path& path);
std::vector<RankingExample> read_rankings_jsonl(const std::filesystem::path& path);
std::vector<PromptExample> read_prompts_jsonl(const std::filesystem::path& path);

}  // namespace lmforge
