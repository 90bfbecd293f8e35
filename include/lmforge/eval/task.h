// Benchmark task files for `lmforge eval --task`: JSONL rows of three kinds, read with the field
// names lm-evaluation-harness's popular tasks use (docs/EVAL.md lists them), and the prompts built
// from them the way the harness builds its requests:
//   multiple_choice  {"context", "choices": [..], "gold"}   (aliases: query/question/ctx/prompt,
//                    endings/options, label/answer/answerKey; ARC's {"text": [..], "label": [..]})
//   generation       {"question", "answer"}                  (aliases: context/query/prompt/input,
//                    target/answers/output)
//   perplexity       {"text"}                                (aliases: page/document)
// Few-shot: K examples drawn with a seeded generator from a separate split (--fewshot FILE; the
// task itself, minus the row being scored, when none is given), each "text + target_delimiter +
// target", joined and closed by fewshot_delimiter, after an optional description.
// Not here: scoring (eval/evaluate.h), the model.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lmforge {

enum class TaskKind { kMultipleChoice, kGeneration, kPerplexity };
const char* task_kind_name(TaskKind k);  // "multiple_choice" | "generation" | "perplexity"
// Parses a kind name (also "mc", "generate_until", "loglikelihood_rolling"); UsageError if unknown.
TaskKind parse_task_kind(const std::string& name);

struct TaskRow {
  int64_t line = 0;
  std::string text;                  // context / question / document
  std::vector<std::string> choices;  // multiple choice only
  std::vector<int> gold;             // multiple choice: indices into choices (usually one)
  std::vector<std::string> answers;  // generation: accepted answers (usually one)
  // The target text of a few-shot example: the gold choice, or the first answer.
  const std::string& target() const {
    return choices.empty() ? answers.at(0) : choices.at(gold.at(0));
  }
};

struct Task {
  std::string name;  // the file's stem unless given
  std::string file;  // as given, for errors
  TaskKind kind = TaskKind::kMultipleChoice;
  std::vector<TaskRow> rows;
};

// Reads a task file. `kind`: forced, else inferred from the first row's fields (choices ->
// multiple_choice; an answer -> generation; only text -> perplexity). Every problem is an
// InputError naming the file, the line and the field. limit > 0 keeps the first `limit` rows.
Task read_task(const std::filesystem::path& file, std::optional<TaskKind> kind = std::nullopt,
               int64_t limit = 0);

struct PromptOptions {
  int num_fewshot = 0;
  uint64_t seed = 1234;                    // the harness's default fewshot_random_seed
  std::string target_delimiter = " ";      // between context and continuation
  std::string fewshot_delimiter = "\n\n";  // between examples, and before the question
  std::string description;                 // text before the examples
};

// The few-shot context of every row of `task`: description + K examples + row.text. The
// examples come from `fewshot` (a separate split; may be null: then from the task itself,
// never the row being scored). One generator seeded with `seed` draws the examples of all rows in
// row order with CPython's random.sample (eval/python_random.h), as the harness's sampler does.
// UsageError when the pool is too small.
std::vector<std::string> build_contexts(const Task& task, const Task* fewshot,
                                        const PromptOptions& opt);

}  // namespace lmforge
