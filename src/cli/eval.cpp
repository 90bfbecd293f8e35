// `lmforge eval`: option parsing and printing only. --data: held-out loss, run_eval()
// (train/evaluate.h); --task: benchmark tasks the way lm-evaluation-harness scores them,
// evaluate_task() (eval/evaluate.h).
#include <omp.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/command.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/eval/evaluate.h"
#include "lmforge/train/evaluate.h"

namespace lmforge::cli {
namespace {

struct Paths {
  std::string model, data;
  bool json = false;
  std::vector<std::string> tasks;
  std::string task_kind, rows;
  bool separate = false;
  // Typed with backslash escapes (\n, \t, \\) so that newlines fit a command line.
  std::string target_delimiter = " ", fewshot_delimiter = "\\n\\n", description;
  std::vector<std::string> stop;  // default: the fewshot delimiter, as the harness's `until`
};

std::string unescape(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      o += s[i];
      continue;
    }
    const char c = s[++i];
    o += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
  }
  return o;
}

void add_task_options(CLI::App* cmd, TaskEvalOptions& t, Paths& p) {
  cmd->add_option("--task", p.tasks,
                  "a benchmark task file (JSONL: multiple choice, generation or perplexity rows; "
                  "docs/EVAL.md); repeat for several")
      ->check(CLI::ExistingFile);
  cmd->add_option("--task-kind", p.task_kind,
                  "the tasks' kind when their rows do not say it: multiple_choice | generation | "
                  "perplexity");
  cmd->add_option("--num-fewshot", t.prompt.num_fewshot, "few-shot examples before each question");
  cmd->add_option("--fewshot", t.fewshot_file,
                  "task file to draw the examples from (a separate split; default: the task "
                  "itself, never the question being scored)");
  cmd->add_option("--seed", t.prompt.seed, "seed of the few-shot draw (the harness's default)");
  cmd->add_option("--description", p.description, "text before the examples (\\n: newline)");
  cmd->add_option("--target-delimiter", p.target_delimiter,
                  "between a context and its continuation (\\n: newline)");
  cmd->add_option("--fewshot-delimiter", p.fewshot_delimiter, "after each example (\\n: newline)");
  cmd->add_option("--limit", t.limit, "score the first N rows of each task (0: all)");
  cmd->add_option("--max-length", t.max_length, "window in tokens (0: the model's context)");
  cmd->add_flag("--no-shared-context", p.separate,
                "score each choice with its own forward instead of sharing the context's "
                "(same numbers, slower; for checks)");
  cmd->add_option("--stop", p.stop, "generation: stop strings (default: the fewshot delimiter)");
  cmd->add_option("--max-gen-tokens", t.max_gen_tokens, "generation: new tokens at most");
  cmd->add_option("--answer-regex", t.answer_regex,
                  "generation: extract the answer with this regex (first capture group; "
                  "\"\": the whole stripped response)");
  cmd->add_option("--group-select", t.group_select,
                  "generation: which regex match to take (-1: the last)");
  cmd->add_option("--regex-ignore", t.match.regexes_to_ignore,
                  "generation: remove matches of these regexes from answer and reference first");
  cmd->add_flag("--ignore-case", t.match.ignore_case, "generation: compare case-insensitively");
  cmd->add_flag("--ignore-punctuation", t.match.ignore_punctuation,
                "generation: drop ASCII punctuation before comparing");
  cmd->add_flag("--chat", t.chat, "generation: prompt through the model's chat template");
  cmd->add_option("--bootstrap-iters", t.bootstrap_iters,
                  "perplexity: bootstrap resamples for the standard errors");
  cmd->add_option("--rows", p.rows,
                  "write per-row details (ids, log-likelihoods, answers) as JSONL");
}

void run_tasks(const Paths& p, TaskEvalOptions opt) {
  opt.shared_context = !p.separate;
  opt.prompt.target_delimiter = unescape(p.target_delimiter);
  opt.prompt.fewshot_delimiter = unescape(p.fewshot_delimiter);
  opt.prompt.description = unescape(p.description);
  opt.stop.clear();
  for (const auto& x : p.stop) opt.stop.push_back(unescape(x));
  if (opt.stop.empty()) opt.stop.push_back(opt.prompt.fewshot_delimiter);
  std::optional<TaskKind> kind;
  if (!p.task_kind.empty()) kind = parse_task_kind(p.task_kind);
  std::vector<Task> tasks;
  for (const auto& f : p.tasks) tasks.push_back(read_task(f, kind, opt.limit));
  auto model = LoadedModel::load(p.model);
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  std::string rows;
  for (const auto& t : tasks) {
    TaskResult r = evaluate_task(*model, t, opt);
    if (p.json)
      all.push_back(task_result_json(r));
    else
      std::printf("%s", task_result_text(r).c_str());
    if (!p.rows.empty())
      for (const auto& d : r.details) {
        nlohmann::ordered_json j = {{"task", r.name}};
        j.update(row_result_json(r, d));
        rows += j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
      }
  }
  if (!p.rows.empty()) write_file_atomic(p.rows, rows);
  if (p.json)
    std::printf("%s\n", nlohmann::ordered_json{{"tasks", all}}
                            .dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                            .c_str());
}

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(root, "eval",
                              "Score a model on held-out text (--data: mean loss in nats/token, "
                              "perplexity, bits per byte) or on benchmark tasks (--task: "
                              "acc/acc_norm, exact_match, word/byte perplexity, as "
                              "lm-evaluation-harness scores them; docs/EVAL.md)");
  auto o = std::make_shared<EvalOptions>();
  auto p = std::make_shared<Paths>();
  auto t = std::make_shared<TaskEvalOptions>();
  cmd->add_option("--model", p->model,
                  "model directory (config.json, model.safetensors, "
                  "tokenizer.json)")
      ->required();
  cmd->add_option("--data", p->data,
                  "a prepared data directory (scores --split) or a UTF-8 text file (tokenized "
                  "with the model's tokenizer)");
  cmd->add_option("--split", o->split, "split of a data directory")
      ->check(CLI::IsMember({"train", "val"}));
  cmd->add_option("--seq-len", o->seq_len,
                  "window length T; each window scores T tokens (0: the model's context)");
  cmd->add_option("--batch-size", o->batch_size, "windows per forward pass");
  cmd->add_option("--max-tokens", o->max_tokens, "score at most this many tokens (0: all)");
  cmd->add_option("--threads", o->threads, "CPU threads (0: OpenMP's default)");
  cmd->add_flag("--json", p->json,
                "print one JSON object on stdout: {loss, perplexity, bits_per_byte, tokens} for "
                "--data, {tasks: [...]} for --task");
  add_task_options(cmd, *t, *p);
  cmd->callback([cmd, o, p, t] {
    print_resolved_config(*cmd);
    if (p->data.empty() == p->tasks.empty())
      throw UsageError("give either --data (held-out loss) or --task (benchmark tasks)");
    if (!p->tasks.empty()) {
      if (o->threads > 0) omp_set_num_threads(o->threads);
      run_tasks(*p, *t);
      return;
    }
    EvalOptions opts = *o;
    opts.model_dir = p->model;
    opts.data = p->data;
    EvalResult r = run_eval(opts);
    if (p->json) {
      nlohmann::ordered_json j = {{"loss", r.loss()},
                                  {"perplexity", r.perplexity()},
                                  {"bits_per_byte", r.bits_per_byte()},
                                  {"tokens", r.tokens}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("loss %.4f nats/token\nperplexity %.3f\nbits per byte %.4f\ntokens %lld\n",
                  r.loss(), r.perplexity(), r.bits_per_byte(), static_cast<long long>(r.tokens));
    }
  });
}

const bool registered = register_command(40, setup);

}  // namespace
}  // namespace lmforge::cli
