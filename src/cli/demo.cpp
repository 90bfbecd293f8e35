// `lmforge demo`: the whole journey on built-in data (the embedded pipeline of
// demo/builtin_pipeline.cpp run by run_pipeline), plus its helpers `demo data` (build the
// datasets from the fetched corpus), `demo answer` (greedy answers and held-out accuracy per
// kind, the runner's sample probe) and `demo rank` (sampled answers ranked by the simulated
// ranker). Option parsing and printing only.
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/output_guard.h"
#include "lmforge/demo/answer.h"
#include "lmforge/demo/demo_data.h"
#include "lmforge/demo/pipeline.h"
#include "lmforge/demo/rank.h"

namespace lmforge::cli {
namespace fs = std::filesystem;
namespace {

struct DemoOpts {
  std::string output = "demo-run", corpus = "demo-corpus";
  double minutes = 20;
  double speed = 0;  // 0: measure (and keep in OUTPUT/sizing.json for resumes)
  bool no_report = false, print_pipeline = false;
};

void run_demo(const DemoOpts& o) {
  // A workspace: each stage (a child lmforge) checks its own output inside it.
  const fs::path dir = fs::absolute(check_output(
      {"--output", o.output, OutputSpec::Kind::kDir, {"*"}, {}, {}, "a demo run directory"}, {}));
  const fs::path corpus = fs::absolute(o.corpus);
  const fs::path data = dir / "data";
  if (!fs::exists(data / "manifest.json") && !fs::exists(corpus / "general" / "bible-kjv.txt"))
    throw UsageError("no demo corpus in " + corpus.string() +
                     " (hint: run `scripts/fetch-corpus.sh " + o.corpus +
                     "` from the lmforge source tree first, or pass --corpus DIR)");
  // The sizing is measured once per run directory: a resumed run keeps its step counts.
  const fs::path sizing_file = dir / "sizing.json";
  double speed = o.speed, tiny_rate = 0, gflops = 0;
  std::vector<double> costs;
  if (speed <= 0 && fs::exists(sizing_file)) {
    try {
      const auto j = nlohmann::json::parse(read_file(sizing_file));
      speed = j.value("speed", 0.0);
      costs = j.value("measured_costs", std::vector<double>{});
    } catch (const std::exception&) {
      speed = 0, costs.clear();
    }
  }
  if (speed <= 0) {
    // What training gets here: the tiny model's training rate over the reference machine's, then
    // the rates of the larger sizes this speed might afford (their cost over tiny, measured).
    tiny_rate = measure_training_tokens_per_s("tiny", 0);
    speed = tiny_rate / kReferenceTokensPerS;
    costs = {1.0};
    const auto& sizes = demo_sizes();
    for (size_t i = 1; i < sizes.size() && sizes[i].cost <= 2 * std::sqrt(speed); ++i)
      costs.push_back(tiny_rate / measure_training_tokens_per_s(sizes[i].preset, sizes[i].width));
    gflops = measure_sgemm_gflops();
  }
  const DemoSizing z = demo_sizing(o.minutes, speed, costs);
  std::printf(
      "machine: %s%.2fx the reference (2 AVX2 cores, %.0f tokens/s) -> model %s, %.1fM "
      "parameters (%.2fx tiny's time per token), steps x%.2f of the 20-minute reference run\n",
      tiny_rate > 0 ? ("trains the tiny model at " + std::to_string(int(tiny_rate)) +
                       " tokens/s (sgemm " + std::to_string(int(gflops)) + " GFLOP/s) = ")
                          .c_str()
                    : "",
      z.speed, kReferenceTokensPerS, z.model.c_str(), double(z.params) / 1e6, z.cost, z.step_scale);
  fs::create_directories(dir);
  write_file_atomic(sizing_file, nlohmann::json{{"speed", z.speed},
                                                {"tiny_tokens_per_s", tiny_rate},
                                                {"reference_tokens_per_s", kReferenceTokensPerS},
                                                {"measured_costs", costs},
                                                {"sgemm_gflops", gflops},
                                                {"minutes", o.minutes},
                                                {"model", z.model},
                                                {"params", z.params},
                                                {"cost", z.cost},
                                                {"step_scale", z.step_scale}}
                                         .dump(2) +
                                     "\n");
  const std::string yaml = builtin_demo_pipeline_yaml(z, o.minutes);
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
  cmd->add_option("--speed", o->speed,
                  "this machine's speed over the reference (2 AVX2 cores) that sizes the model "
                  "and steps (0: measure the training rate of the model sizes at the first start, "
                  "~2-10 s, kept in OUTPUT/sizing.json)")
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_option("--corpus", o->corpus,
                  "the corpus fetched by scripts/fetch-corpus.sh (needed until OUTPUT/data "
                  "exists)");
  cmd->add_flag("--no-report", o->no_report, "do not call `lmforge report` after each stage");
  cmd->add_flag("--print-pipeline", o->print_pipeline,
                "print the demo's pipeline YAML for --minutes (a start for `lmforge run` on your "
                "own data) and exit");
  cmd->callback([cmd, o] {
    if (!cmd->get_subcommands().empty()) return;  // a `demo` subcommand ran instead
    if (o->print_pipeline) {
      std::fputs(builtin_demo_pipeline_yaml(o->minutes, o->speed > 0 ? o->speed : 1.0).c_str(),
                 stdout);
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
    opt.output = check_output({"--output",
                               *out,
                               OutputSpec::Kind::kDir,
                               {"manifest.json", "general", "domain", "task", "instruct", "rlhf"},
                               {},
                               {},
                               "a data directory of an earlier `lmforge demo data`"},
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
  auto versus = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  ans->add_option("--model", *model, "model directory")->required();
  ans->add_option("--prompt", a->prompts, "a prompt (repeatable)");
  ans->add_flag("--chat", a->chat, "render each prompt as a user turn with the chat template");
  ans->add_option("--heldout", *heldout,
                  "chat JSONL: accuracy = answers equal to the last assistant message "
                  "(normalised), overall and per \"kind\"");
  ans->add_option("--max", a->heldout_max,
                  "held-out examples to score at most, taken from every kind in turn")
      ->check(CLI::PositiveNumber);
  ans->add_option("--metric", a->metric,
                  "exact: the normalised answer equals the reference; contains: it contains it")
      ->check(CLI::IsMember({"exact", "contains"}));
  ans->add_option("--max-tokens", a->max_tokens, "new tokens per answer at most")
      ->check(CLI::PositiveNumber);
  ans->add_option("--versus", *versus,
                  "a baseline model directory (e.g. the instruction-tuned model): it answers the "
                  "held-out prompts too, and the SIMULATED RANKER judges each pair: ranker win "
                  "rate = wins / (wins + losses) over the prompts whose answers differ");
  ans->add_flag(
      "--json", *json,
      "print {\"samples\":[{\"prompt\",\"answer\"}], \"accuracy\", \"heldout\", "
      "\"by_kind\":{KIND:{\"n\",\"correct\",\"accuracy\"}}, \"heldout_answers\":[{\"kind\", "
      "\"prompt\",\"reference\",\"answer\",\"correct\"}]} (with --versus also "
      "\"versus_answer\" per answer and \"ranker_win_rate\":{\"prompts\",\"differ\",\"wins\","
      "\"losses\",\"ties\",\"win_rate\"}) on stdout");
  ans->callback([ans, a, model, heldout, versus, json] {
    print_resolved_config(*ans);
    AnswerOptions opt = *a;
    opt.model = *model;
    opt.heldout = *heldout;
    opt.versus = *versus;
    AnswerResult r = answer_prompts(opt);
    if (*json) {
      nlohmann::ordered_json j = {{"samples", nlohmann::ordered_json::array()}};
      for (const auto& [p, t] : r.samples) j["samples"].push_back({{"prompt", p}, {"answer", t}});
      if (!opt.heldout.empty()) {
        j["accuracy"] = r.accuracy();
        j["heldout"] = r.heldout_n;
        j["by_kind"] = nlohmann::ordered_json::object();
        for (const auto& [k, v] : r.by_kind())
          j["by_kind"][k] = {{"n", v.n}, {"correct", v.correct}, {"accuracy", v.accuracy()}};
        j["heldout_answers"] = nlohmann::ordered_json::array();
        for (const auto& h : r.heldout)
          j["heldout_answers"].push_back({{"kind", h.kind},
                                          {"prompt", h.prompt},
                                          {"reference", h.reference},
                                          {"answer", h.answer},
                                          {"correct", h.correct}});
        if (r.win_rate) {
          for (size_t k = 0; k < r.heldout.size(); ++k)
            j["heldout_answers"][k]["versus_answer"] = r.heldout[k].versus_answer;
          const RankerWinRate& w = *r.win_rate;
          j["ranker_win_rate"] = {{"prompts", w.prompts},
                                  {"differ", w.differ},
                                  {"wins", w.wins},
                                  {"losses", w.losses},
                                  {"ties", w.ties},
                                  {"credit_wins", w.credit_wins},
                                  {"credit_losses", w.credit_losses},
                                  {"win_rate", nullptr}};
          if (w.rate()) j["ranker_win_rate"]["win_rate"] = *w.rate();
        }
      }
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      return;
    }
    for (const auto& [p, t] : r.samples) std::printf("%s\n  -> %s\n", p.c_str(), t.c_str());
    if (!opt.heldout.empty()) {
      std::printf("held-out accuracy: %d/%d = %.3f\n", r.heldout_correct, r.heldout_n,
                  r.accuracy());
      for (const auto& [k, v] : r.by_kind())
        std::printf("  %-14s %d/%d = %.3f\n", k.c_str(), v.correct, v.n, v.accuracy());
      if (r.win_rate) {
        const RankerWinRate& w = *r.win_rate;
        std::printf(
            "ranker win rate over %s: %s (%d won, %d lost, %d tied; %d of %d answers "
            "differ)\n",
            opt.versus.c_str(), w.rate() ? std::to_string(*w.rate()).substr(0, 5).c_str() : "-",
            w.wins, w.losses, w.ties, w.differ, w.prompts);
      }
    }
  });

  CLI::App* rank = add_command(
      *cmd, "rank",
      "Sample several answers of a model to each prompt and rank them best to worst with the "
      "SIMULATED RANKER (right first, with partial credit; then concise): rankings JSONL for "
      "reward, dpo and ppo, the same format as `lmforge label export`");
  auto ro = std::make_shared<RankOptions>();
  auto rstr = std::make_shared<std::array<std::string, 3>>();
  auto rjson = std::make_shared<bool>(false);
  rank->add_option("--model", (*rstr)[0], "model directory (the instruction-tuned model)")
      ->required();
  rank->add_option("--prompts", (*rstr)[1],
                   "JSONL {\"prompt\", \"reference\"} (the reference is for the ranker only)")
      ->required();
  rank->add_option("--output", (*rstr)[2], "rankings JSONL to write (atomically)")->required();
  rank->add_option("--samples", ro->samples, "answers sampled per prompt")
      ->check(CLI::Range(2, 64));
  rank->add_option("--temperature", ro->temperature, "sampling temperature (> 0)");
  rank->add_option("--max-temperature", ro->max_temperature,
                   "prompts whose samples are all the same are sampled again at 1.5x the "
                   "temperature, then 1.5x that, up to this (<= --temperature: never)");
  rank->add_option("--top-k", ro->top_k, "sample from the k most likely tokens (0: all)");
  rank->add_option("--max-tokens", ro->max_tokens, "new tokens per answer at most")
      ->check(CLI::PositiveNumber);
  rank->add_option("--max-prompts", ro->max_prompts, "prompts used at most (0: all)")
      ->check(CLI::NonNegativeNumber);
  rank->add_option("--seed", ro->seed, "sampling seed (same seed, same rankings)");
  rank->add_flag("--json", *rjson, "print the summary as JSON on stdout");
  rank->callback([rank, ro, rstr, rjson] {
    print_resolved_config(*rank);
    RankOptions opt = *ro;
    opt.model = (*rstr)[0];
    opt.prompts = (*rstr)[1];
    opt.output = check_output({"--output",
                               (*rstr)[2],
                               OutputSpec::Kind::kFile,
                               {},
                               {},
                               jsonl_with_key({"responses"}),
                               "a rankings JSONL file"},
                              {{"--model", opt.model}, {"--prompts", opt.prompts}});
    RankSummary s = rank_sampled_answers(opt);
    if (*rjson) {
      nlohmann::ordered_json j = {{"prompts", s.prompts},
                                  {"ranked", s.ranked},
                                  {"skipped_identical", s.skipped_identical},
                                  {"resampled", s.resampled},
                                  {"best_credit", s.best_credit},
                                  {"any_right", s.any_right},
                                  {"mean_credit", s.mean_credit},
                                  {"mean_distinct", s.mean_distinct}};
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf(
        "%d of %d prompts ranked (%d sampled again at a higher temperature, %d still had "
        "identical samples); %.1f distinct answers per prompt; mean credit %.3f, of the best "
        "%.3f; a right answer among the samples in %.0f%%\n"
        "rankings (SIMULATED RANKER) in %s\n",
        s.ranked, s.prompts, s.resampled, s.skipped_identical, s.mean_distinct, s.mean_credit,
        s.best_credit, 100 * s.any_right, opt.output.c_str());
  });
}

const bool registered = register_command(200, setup);

}  // namespace
}  // namespace lmforge::cli
