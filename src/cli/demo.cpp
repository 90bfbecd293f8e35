// `lmforge demo`: the whole journey on built-in data (the embedded pipeline of
// demo/builtin_pipeline.cpp run by run_pipeline), plus its helpers `demo data` (build the
// datasets from the fetched corpus) and `demo answer` (greedy answers and held-out accuracy,
// the runner's sample probe). Option parsing and printing only.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "lmforge/core/error.h"
#include "lmforge/core/output_guard.h"
#include "lmforge/demo/answer.h"
#include "lmforge/demo/demo_data.h"
#include "lmforge/demo/pipeline.h"

namespace lmforge::cli {
namespace fs = std::filesystem;
namespace {

struct DemoOpts {
  std::string output = "demo-run", corpus = "demo-corpus";
  double minutes = 20;
  bool no_report = false, print_pipeline = false;
};

void run_demo(const DemoOpts& o) {
  // A workspace: each stage (a child lmforge) checks its own output inside it.
  const fs::path dir = fs::absolute(check_output({"--output", o.output, OutputSpec::Kind::kDir,
                                                  {"*"}, {}, {}, "a demo run directory"},
                                                 {}));
  const fs::path corpus = fs::absolute(o.corpus);
  const fs::path data = dir / "data";
  if (!fs::exists(data / "manifest.json") && !fs::exists(corpus / "general" / "bible-kjv.txt"))
    throw UsageError("no demo corpus in " + corpus.string() +
                     " (hint: run `scripts/fetch-corpus.sh " + o.corpus +
                     "` from the lmforge source tree first, or pass --corpus DIR)");
  const std::string yaml = builtin_demo_pipeline_yaml(o.minutes);
  Pipeline p =
      parse_pipeline(yaml, "<built-in demo pipeline>",
                     {{"DIR", dir.string()}, {"DATA", data.string()}, {"CORPUS", corpus.string()}});
  RunPipelineOptions ro;
  ro.output = dir;
  ro.report = !o.no_report;
  run_pipeline(p, ro);
  std::printf("\nYour model is ready. Talk to it:\n  lmforge chat --model %s\n",
              (dir / "ppo" / "final").c_str());
  if (fs::exists(dir / "report.html"))
    std::printf("The report card: %s\n", (dir / "report.html").c_str());
}

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(
      root, "demo",
      "The whole journey on built-in data: tokenizer, pretraining, continued pretraining, "
      "task fine-tuning, instruction tuning, reward model, DPO and PPO, with probes after "
      "each stage and a report card (resumes when interrupted)");
  cmd->require_subcommand(0, 1);
  auto o = std::make_shared<DemoOpts>();
  cmd->add_option("--output", o->output, "run directory (resumed when it exists)");
  cmd->add_option("--minutes", o->minutes,
                  "about how long the demo should take on two cores; steps scale with it")
      ->check(CLI::Range(1.0, 100000.0));
  cmd->add_option("--corpus", o->corpus,
                  "the corpus fetched by scripts/fetch-corpus.sh (needed until OUTPUT/data "
                  "exists)");
  cmd->add_flag("--no-report", o->no_report, "do not call `lmforge report` after each stage");
  cmd->add_flag("--print-pipeline", o->print_pipeline,
                "print the demo's pipeline YAML for --minutes (a start for `lmforge run` on your "
                "own data) and exit");
  cmd->callback([cmd, o] {
    if (!cmd->get_subcommands().empty()) return;  // `demo data` / `demo answer` ran instead
    if (o->print_pipeline) {
      std::fputs(builtin_demo_pipeline_yaml(o->minutes).c_str(), stdout);
      return;
    }
    print_resolved_config(*cmd);
    run_demo(*o);
  });

  CLI::App* data = add_command(*cmd, "data",
                               "Build the demo datasets (general, domain, task, instruct, rlhf) "
                               "from the corpus of scripts/fetch-corpus.sh");
  auto d = std::make_shared<DemoDataOptions>();
  auto corpus = std::make_shared<std::string>("demo-corpus");
  auto out = std::make_shared<std::string>();
  data->add_option("--corpus", *corpus, "corpus directory written by scripts/fetch-corpus.sh");
  data->add_option("--output", *out, "data directory to write (replaced atomically)")->required();
  data->add_option("--seed", d->seed, "seed of every split and choice (same seed, same files)");
  data->add_option("--task-pairs", d->task_pairs, "English-German pairs in all")
      ->check(CLI::PositiveNumber);
  data->add_option("--task-val", d->task_val, "of which held out for validation")
      ->check(CLI::NonNegativeNumber);
  data->add_option("--instruct-train", d->instruct_train, "instruction examples for training")
      ->check(CLI::PositiveNumber);
  data->add_option("--instruct-heldout", d->instruct_heldout,
                   "held-out instruction examples (phrasings never used in training)")
      ->check(CLI::PositiveNumber);
  data->add_option("--rankings", d->rlhf_rankings, "ranked prompts for the reward model and DPO")
      ->check(CLI::PositiveNumber);
  data->add_option("--prompts", d->rlhf_prompts, "prompts for PPO")->check(CLI::PositiveNumber);
  data->add_option("--domain-max-bytes", d->domain_max_bytes, "cap on the computing text")
      ->check(CLI::PositiveNumber);
  data->callback([data, d, corpus, out] {
    print_resolved_config(*data);
    DemoDataOptions opt = *d;
    opt.corpus = *corpus;
    opt.output = check_output({"--output", *out, OutputSpec::Kind::kDir,
                               {"manifest.json", "general", "domain", "task", "instruct", "rlhf"},
                               {}, {}, "a data directory of an earlier `lmforge demo data`"},
                              {{"--corpus", *corpus}});
    DemoDataSummary s = build_demo_data(opt);
    std::printf(
        "demo data in %s:\n  general  %.1f MB\n  domain   %lld train + %lld val documents, %.1f "
        "MB\n  task     %d train + %d val pairs\n  instruct %d train + %d held-out examples\n"
        "  rlhf     %d ranked prompts (simulated ranker) + %d PPO prompts\n",
        out->c_str(), s.general_bytes / 1e6, (long long)s.domain_train_docs,
        (long long)s.domain_val_docs, s.domain_bytes / 1e6, s.task_train, s.task_val,
        s.instruct_train, s.instruct_heldout, s.rlhf_rankings, s.rlhf_prompts);
  });

  CLI::App* ans = add_command(*cmd, "answer",
                              "Greedy answers of a model to prompts, and held-out instruction "
                              "accuracy (the pipeline's sample probe)");
  auto a = std::make_shared<AnswerOptions>();
  auto model = std::make_shared<std::string>(), heldout = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  ans->add_option("--model", *model, "model directory")->required();
  ans->add_option("--prompt", a->prompts, "a prompt (repeatable)");
  ans->add_flag("--chat", a->chat, "render each prompt as a user turn with the chat template");
  ans->add_option("--heldout", *heldout,
                  "chat JSONL: accuracy = answers containing the last assistant message");
  ans->add_option("--max", a->heldout_max, "held-out examples to score (the first N)")
      ->check(CLI::PositiveNumber);
  ans->add_option("--max-tokens", a->max_tokens, "new tokens per answer at most")
      ->check(CLI::PositiveNumber);
  ans->add_flag("--json", *json,
                "print {\"samples\":[{\"prompt\",\"answer\"}], \"accuracy\", \"heldout\"} on "
                "stdout");
  ans->callback([ans, a, model, heldout, json] {
    print_resolved_config(*ans);
    AnswerOptions opt = *a;
    opt.model = *model;
    opt.heldout = *heldout;
    AnswerResult r = answer_prompts(opt);
    if (*json) {
      nlohmann::ordered_json j = {{"samples", nlohmann::ordered_json::array()}};
      for (const auto& [p, t] : r.samples) j["samples"].push_back({{"prompt", p}, {"answer", t}});
      if (!opt.heldout.empty()) {
        j["accuracy"] = r.accuracy();
        j["heldout"] = r.heldout_n;
      }
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      return;
    }
    for (const auto& [p, t] : r.samples) std::printf("%s\n  -> %s\n", p.c_str(), t.c_str());
    if (!opt.heldout.empty())
      std::printf("held-out accuracy: %d/%d = %.3f\n", r.heldout_correct, r.heldout_n,
                  r.accuracy());
  });
}

const bool registered = register_command(200, setup);

}  // namespace
}  // namespace lmforge::cli
