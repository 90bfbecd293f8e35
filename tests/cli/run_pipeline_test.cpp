// `lmforge run PIPELINE.yaml --output DIR` as a user runs it: a 3-stage pipeline (tokenizer,
// prepare, a very short pretrain) on a tiny corpus writes state.json with probes of the
// pretrained model; a second invocation skips every done stage; a missing command, a failing
// stage and an unknown ${VAR} fail clearly. Also the built-in demo pipeline parses, and rankings
// of a model's sampled answers (or a `label export` file) flow into reward, dpo and ppo.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/demo/pipeline.h"
#include "support/cli_run.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {

fs::path g_root;

class Env : public ::testing::Environment {
 public:
  void SetUp() override {
    g_root = fs::temp_directory_path() / ("lmforge-run-pipeline-" + std::to_string(getpid()));
    fs::remove_all(g_root);
    fs::create_directories(g_root / "corpus");
    // A small, learnable corpus: sentences from a tiny grammar.
    const char* subj[] = {"the cat", "a dog", "the old bird", "my friend"};
    const char* verb[] = {"sees", "likes", "eats", "finds"};
    const char* obj[] = {"the fish", "a red ball", "some bread", "the moon"};
    std::string text, val;
    for (int d = 0; d < 120; ++d) {
      std::string doc;
      for (int s = 0; s < 4; ++s)
        doc += std::string(subj[(d + s) % 4]) + " " + verb[(d * 3 + s) % 4] + " " +
               obj[(d * 7 + s) % 4] + ". ";
      (d % 10 == 0 ? val : text) += doc + "\n\n";
    }
    write_file_atomic(g_root / "corpus" / "train.txt", text);
    write_file_atomic(g_root / "val.txt", val);
  }
  void TearDown() override { fs::remove_all(g_root); }
};
[[maybe_unused]] auto* const env = ::testing::AddGlobalTestEnvironment(new Env);

const char* kPipeline = R"(title: "tiny test pipeline"
probes:
  prompt: "the cat"
  top: 3
  general_val: ${DIR}/shards
  domain_val: ${VAL}
  eval_tokens: 256
  samples: ["a dog", "the old bird sees the"]
  tasks: [{path: "${MC}", name: tiny-mc}]
stages:
  - name: tokenizer
    title: Tokenizer
    what: "Learns a small BPE vocabulary."
    command: tokenizer train
    options: {input: "${CORPUS}", vocab-size: 300, output: "${DIR}/tokenizer", threads: 1}
  - name: prepare
    title: Shards
    command: prepare
    options: {tokenizer: "${DIR}/tokenizer", input: "${CORPUS}", output: "${DIR}/shards", val-fraction: 0.1, threads: 1}
  - name: pretrain
    title: Pretraining
    what: "A very short pretraining run."
    command: pretrain
    options: {data: "${DIR}/shards", output: "${DIR}/pretrain", n-layer: 1, n-head: 2, n-embd: 32, n-ctx: 32, batch-size: 4, max-steps: 6, eval-every: 3, eval-tokens: 256, threads: 1, peak-gflops: 100}
)";

std::string vars() {
  return " --var CORPUS=" + (g_root / "corpus").string() +
         " --var VAL=" + (g_root / "val.txt").string() +
         " --var MC=" + (g_root / "mc.jsonl").string();
}

CliRun run(const std::string& args) {
  return run_lmforge(g_root, args);
}

nlohmann::json state_of(const fs::path& dir) {
  return nlohmann::json::parse(read_file(dir / "state.json"));
}

int count(const std::string& s, const std::string& needle) {
  int n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST(RunPipeline, RunsStagesProbesAndSkipsDoneStagesOnRerun) {
  write_file_atomic(g_root / "p.yaml", kPipeline);
  write_file_atomic(
      g_root / "mc.jsonl",
      "{\"context\": \"the cat\", \"choices\": [\"sat\", \"dog\"], \"gold\": 0}\n"
      "{\"context\": \"a dog\", \"choices\": [\"runs\", \"the\", \"old\"], \"gold\": 0}\n");
  const fs::path dir = g_root / "run";
  CliRun r = run("run " + (g_root / "p.yaml").string() + " --output " + dir.string() +
                 " --no-report" + vars());
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(dir / "pipeline.yaml"));
  auto st = state_of(dir);
  EXPECT_EQ(st["format"], "lmforge-pipeline-state");
  EXPECT_EQ(st["version"], 1);
  EXPECT_EQ(st["title"], "tiny test pipeline");
  EXPECT_TRUE(st["simulated_ranker"].is_null());
  ASSERT_EQ(st["stages"].size(), 3u);
  for (auto& s : st["stages"]) EXPECT_EQ(s["status"], "done") << s["name"];
  EXPECT_EQ(st["stages"][0]["name"], "tokenizer");
  EXPECT_EQ(
      st["stages"][0]["command"].get<std::string>().rfind("lmforge tokenizer train --input ", 0),
      0u);
  EXPECT_TRUE(st["stages"][0]["probes"].empty());  // not a model stage
  const auto& pre = st["stages"][2];
  EXPECT_EQ(pre["title"], "Pretraining");
  EXPECT_EQ(pre["output"], (dir / "pretrain").string());
  EXPECT_EQ(pre["metrics"], (dir / "pretrain" / "metrics.jsonl").string());
  EXPECT_TRUE(pre["tokens_per_s"].is_number());
  EXPECT_GT(pre["elapsed_s"].get<double>(), 0.0);
  const auto& pr = pre["probes"];
  ASSERT_TRUE(pr.contains("next_word")) << pr.dump();
  ASSERT_EQ(pr["next_word"].size(), 3u);
  double last = 1.0;
  for (auto& t : pr["next_word"]) {
    EXPECT_TRUE(t["token"].is_string());
    EXPECT_LE(t["prob"].get<double>(), last);
    last = t["prob"].get<double>();
  }
  // A barely trained model on a 300-token vocabulary: loss between 0 and ln(V)+1.
  for (const char* k : {"general_val_loss", "domain_val_loss"}) {
    ASSERT_TRUE(pr.contains(k)) << pr.dump();
    EXPECT_GT(pr[k].get<double>(), 0.0);
    EXPECT_LT(pr[k].get<double>(), 6.8);
  }
  ASSERT_EQ(pre["samples"].size(), 2u);  // prompts of different lengths decoded together
  EXPECT_EQ(pre["samples"][0]["prompt"], "a dog");
  EXPECT_TRUE(pre["samples"][0]["answer"].is_string());
  EXPECT_NE(r.out.find("what changed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("general val loss"), std::string::npos) << r.out;
  // probes.tasks: the benchmark's primary metric with its standard error (eval/evaluate.h).
  ASSERT_TRUE(pr.contains("tasks")) << pr.dump();
  EXPECT_EQ(pr["tasks"]["tiny-mc"]["metric"], "acc_norm");
  EXPECT_EQ(pr["tasks"]["tiny-mc"]["rows"], 2);
  EXPECT_TRUE(pr["tasks"]["tiny-mc"]["value"].is_number());
  EXPECT_TRUE(pr["tasks"]["tiny-mc"]["stderr"].is_number());
  EXPECT_NE(r.out.find("benchmark tiny-mc (acc_norm)"), std::string::npos) << r.out;

  // Second invocation: every stage is skipped, nothing is retrained, probes are kept.
  const std::string metrics = read_file(dir / "pretrain" / "metrics.jsonl");
  CliRun r2 = run("run " + (g_root / "p.yaml").string() + " --output " + dir.string() +
                  " --no-report" + vars());
  ASSERT_EQ(r2.code, 0) << r2.out << r2.err;
  EXPECT_EQ(count(r2.out, "already done"), 3) << r2.out;
  EXPECT_EQ(read_file(dir / "pretrain" / "metrics.jsonl"), metrics);
  auto st2 = state_of(dir);
  EXPECT_EQ(st2["stages"][2]["probes"], pr);
  EXPECT_EQ(st2["stages"][2]["elapsed_s"], pre["elapsed_s"]);
}

TEST(RunPipeline, MissingCommandFailsBeforeRunningAnything) {
  write_file_atomic(g_root / "missing.yaml",
                    "stages:\n"
                    "  - {name: tok, command: tokenizer train, options: {input: x, output: "
                    "\"${DIR}/tok\"}}\n"
                    "  - {name: magic, command: nosuchcommand, options: {output: \"${DIR}/m\"}}\n");
  const fs::path dir = g_root / "missing-run";
  CliRun r = run("run " + (g_root / "missing.yaml").string() + " --output " + dir.string() +
                 " --no-report");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("lmforge nosuchcommand"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stage magic"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "tok"));
}

TEST(RunPipeline, UnknownOptionFailsBeforeRunningAnything) {
  write_file_atomic(
      g_root / "badopt.yaml",
      "stages:\n"
      "  - {name: tok, command: tokenizer train, options: {input: x, vocab-sise: 300, "
      "output: \"${DIR}/tok\"}}\n");
  CliRun r = run("run " + (g_root / "badopt.yaml").string() + " --output " +
                 (g_root / "badopt-run").string() + " --no-report");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--vocab-sise (stage tok"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(g_root / "badopt-run" / "tok"));
}

TEST(RunPipeline, FailingStageIsRecordedAndNamed) {
  write_file_atomic(
      g_root / "fail.yaml",
      "stages:\n"
      "  - {name: tok, command: tokenizer train, options: {input: /nonexistent/x.txt, "
      "vocab-size: 300, output: \"${DIR}/tok\"}}\n");
  const fs::path dir = g_root / "fail-run";
  CliRun r =
      run("run " + (g_root / "fail.yaml").string() + " --output " + dir.string() + " --no-report");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("stage tok failed"), std::string::npos) << r.err;
  EXPECT_EQ(state_of(dir)["stages"][0]["status"], "failed");
}

TEST(RunPipeline, BadPipelineFilesNameFileLineAndField) {
  write_file_atomic(g_root / "bad.yaml",
                    "stages:\n  - name: a\n    command: prepare\n    options: {output: "
                    "\"${NOPE}/x\"}\n");
  CliRun r =
      run("run " + (g_root / "bad.yaml").string() + " --output " + (g_root / "bad-run").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bad.yaml:4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("${NOPE}"), std::string::npos) << r.err;
  write_file_atomic(g_root / "bad2.yaml", "stages:\n  - name: a\n    comand: prepare\n");
  r = run("run " + (g_root / "bad2.yaml").string() + " --output " + (g_root / "bad-run").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("comand"), std::string::npos) << r.err;
}

TEST(RunPipeline, BuiltinDemoPipelineParsesAndScalesWithMinutes) {
  std::map<std::string, std::string> v = {{"DIR", "/d"}, {"DATA", "/d/data"}, {"CORPUS", "/c"}};
  Pipeline p20 = parse_pipeline(builtin_demo_pipeline_yaml(20), "demo", v);
  Pipeline p60 = parse_pipeline(builtin_demo_pipeline_yaml(60), "demo", v);
  std::vector<std::string> names;
  for (auto& s : p20.stages) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"data", "tasks", "tokenizer", "prepare",
                                             "prepare-domain", "pretrain", "cpt", "finetune",
                                             "instruct", "rank", "reward", "dpo", "ppo"}));
  ASSERT_TRUE(p20.simulated_ranker.has_value());
  EXPECT_NE(p20.simulated_ranker->find("SIMULATED RANKER"), std::string::npos);
  auto steps = [](const PipelineStage& s) {
    for (auto& [k, vs] : s.options)
      if (k == "max-steps") return std::stoi(vs.at(0));
    return -1;
  };
  EXPECT_EQ(steps(p20.stages[5]), 2400);
  EXPECT_EQ(steps(p60.stages[5]), 7200);
  EXPECT_EQ(p20.stages[5].done_when, "/d/pretrain/final/config.json");
  EXPECT_EQ(p20.stages[0].done_when, "/d/data/manifest.json");
  EXPECT_TRUE(p20.stages[8].chat);
  // The model's own sampled answers, ranked, feed the reward model and DPO.
  EXPECT_EQ(p20.stages[9].command, (std::vector<std::string>{"demo", "rank"}));
  EXPECT_EQ(p20.stages[9].done_when, "/d/rankings/rankings.jsonl");
  EXPECT_EQ(p20.stages[10].probes, "summary");
  for (size_t i : {10, 11})
    for (auto& [k, vs] : p20.stages[i].options)
      if (k == "data") {
        EXPECT_EQ(vs.at(0), "/d/rankings/rankings.jsonl");
      }
  // The narrow supervised stages mix general text back in.
  for (size_t i : {7, 8}) {
    bool replay = false;
    for (auto& [k, vs] : p20.stages[i].options) replay |= k == "replay";
    EXPECT_TRUE(replay) << p20.stages[i].name;
  }
  // A faster machine gets a wider model and more steps; a slower one fewer steps.
  EXPECT_EQ(demo_sizing(20, 1).preset, "tiny");
  EXPECT_EQ(demo_sizing(20, 1).width, 0);
  EXPECT_GT(demo_sizing(20, 4).width, 0);
  EXPECT_GT(demo_sizing(20, 4).params, demo_sizing(20, 1).params);
  EXPECT_GT(demo_sizing(20, 4).step_scale, 1.0);
  EXPECT_EQ(demo_sizing(20, 100).preset, "small");
  EXPECT_LT(demo_sizing(20, 0.5).step_scale, 1.0);
  // Measured costs replace the FLOP estimates: a width-192 model that trains 3x slower than tiny
  // (not the 1.95x its FLOPs say) is not affordable at speed 4; steps follow the measured cost.
  EXPECT_EQ(demo_sizing(20, 4, {1.0, 3.0}).width, 0);
  EXPECT_DOUBLE_EQ(demo_sizing(20, 4, {1.0, 3.0}).step_scale, 4.0);
  EXPECT_EQ(demo_sizing(20, 4, {1.0, 1.5}).width, 192);
  EXPECT_DOUBLE_EQ(demo_sizing(20, 4, {1.0, 1.5}).step_scale, 4.0 / 1.5);
  // The probe trains: a positive rate, and a wider model is slower per token.
  const double r128 = measure_training_tokens_per_s("tiny", 0, 3);
  EXPECT_GT(r128, 0.0);
  EXPECT_GT(r128, measure_training_tokens_per_s("tiny", 256, 3));
  Pipeline fast = parse_pipeline(builtin_demo_pipeline_yaml(20, 4), "demo", v);
  bool wide = false;
  for (auto& [k, vs] : fast.stages[5].options) wide |= k == "n-embd" && vs.at(0) == "192";
  EXPECT_TRUE(wide);
  // Instruction tuning's rate follows the width: 3e-3 at 128 (measured faster than 1e-3),
  // smaller for wider models, never below 1e-3.
  auto instruct_lr = [](const Pipeline& p) {
    for (auto& s : p.stages)
      for (auto& [k, vs] : s.options)
        if (s.name == "instruct" && k == "lr") return vs.at(0);
    return std::string();
  };
  EXPECT_EQ(instruct_lr(p20), "3e-3");
  EXPECT_EQ(instruct_lr(fast), "2e-3");
  EXPECT_EQ(instruct_lr(parse_pipeline(builtin_demo_pipeline_yaml(20, 100), "demo", v)), "1e-3");
  // The demo's benchmark: built after the data, scored on every probed model.
  EXPECT_EQ(p20.stages[1].done_when, "/d/tasks/manifest.json");
  ASSERT_EQ(p20.probes.tasks.size(), 1u);
  EXPECT_EQ(p20.probes.tasks[0].path, "/d/tasks/en_de_mc.jsonl");
  // The reference copy in examples/ is the same pipeline at 20 minutes.
  const std::string ex = read_file(fs::path(LMFORGE_SOURCE_DIR) / "examples/demo_pipeline.yaml");
  EXPECT_EQ(ex, builtin_demo_pipeline_yaml(20));
}

// The RLHF journey on the model's own answers: a tiny model is instruction-tuned (with replay of
// the general text), `demo rank` samples several answers per prompt and ranks them with the
// simulated ranker, and reward, dpo and ppo train from those rankings; the same stages also take
// a file shaped like `lmforge label export`'s (extra keys "ties", "labeler", "ranking_id").
TEST(RunPipeline, RankingsOfSampledAnswersFlowIntoRewardDpoAndPpo) {
  std::string chats, prompts;
  const char* words[] = {"cat", "dog", "bird", "fish", "moon", "ball", "bread", "book"};
  for (int i = 0; i < 48; ++i) {
    const std::string w = words[i % 8];
    const std::string q = (i % 2 ? "First letter of " : "What letter starts ") + w + "?";
    chats += nlohmann::json{{"messages",
                             {{{"role", "user"}, {"content", q}},
                              {{"role", "assistant"}, {"content", w.substr(0, 1)}}}},
                            {"kind", "first_letter"}}
                 .dump() +
             "\n";
    if (i < 12)
      prompts += nlohmann::json{{"prompt", q}, {"reference", w.substr(0, 1)}}.dump() + "\n";
  }
  write_file_atomic(g_root / "chat.jsonl", chats);
  write_file_atomic(g_root / "prompts.jsonl", prompts);
  std::string label_export;
  for (int i = 0; i < 6; ++i)
    label_export +=
        nlohmann::json{{"prompt", "First letter of " + std::string(words[i]) + "?"},
                       {"responses", {std::string(1, words[i][0]), "x", "I do not know it"}},
                       {"ties", {{1, 2}}},
                       {"labeler", "ann"},
                       {"ranking_id", i + 1}}
            .dump() +
        "\n";
  write_file_atomic(g_root / "label_export.jsonl", label_export);
  const std::string small_stage = "threads: 1, max-steps: 2";
  std::string yaml = std::string(kPipeline);
  yaml.replace(yaml.find("n-layer: 1, n-head: 2, n-embd: 32, n-ctx: 32"),
               std::string("n-layer: 1, n-head: 2, n-embd: 32, n-ctx: 32").size(),
               "n-layer: 1, n-head: 2, n-embd: 32, n-ctx: 96");
  yaml.replace(yaml.find("probes:\n"), 8,
               "probes:\n  heldout: ${CHAT}\n  heldout_max: 8\n  chat_samples: [\"First letter "
               "of cat?\"]\n");
  yaml +=
      "  - name: instruct\n    command: instruct\n    chat: true\n    options: {init: "
      "\"${DIR}/pretrain/final\", data: \"${CHAT}\", output: \"${DIR}/instruct\", replay: "
      "\"${DIR}/shards\", replay-ratio: 0.25, seq-len: 95, threads: 1, max-steps: 4}\n"
      "  - name: rank\n    command: demo rank\n    probes: none\n    options: {model: "
      "\"${DIR}/instruct/final\", prompts: \"${PROMPTS}\", samples: 3, max-tokens: 4, output: "
      "\"${DIR}/rankings/rankings.jsonl\"}\n"
      "  - name: reward\n    command: reward\n    probes: summary\n    options: {init: "
      "\"${DIR}/instruct/final\", data: \"${DIR}/rankings/rankings.jsonl\", output: "
      "\"${DIR}/reward\", " +
      small_stage +
      "}\n"
      "  - name: dpo\n    command: dpo\n    chat: true\n    options: {init: "
      "\"${DIR}/instruct/final\", data: \"${DIR}/rankings/rankings.jsonl\", output: "
      "\"${DIR}/dpo\", " +
      small_stage +
      "}\n"
      "  - name: ppo\n    command: ppo\n    chat: true\n    options: {init: "
      "\"${DIR}/instruct/final\", reward: \"${DIR}/reward/final\", prompts: \"${PROMPTS}\", "
      "output: \"${DIR}/ppo\", rollout-batch: 4, max-new-tokens: 4, " +
      small_stage +
      "}\n"
      "  - name: reward-label\n    command: reward\n    probes: summary\n    options: {init: "
      "\"${DIR}/instruct/final\", data: \"${LABEL}\", output: \"${DIR}/reward-label\", " +
      small_stage +
      "}\n"
      "  - name: dpo-label\n    command: dpo\n    probes: none\n    options: {init: "
      "\"${DIR}/instruct/final\", data: \"${LABEL}\", output: \"${DIR}/dpo-label\", " +
      small_stage + "}\n";
  write_file_atomic(g_root / "rlhf.yaml", yaml);
  const fs::path dir = g_root / "rlhf-run";
  CliRun r = run("run " + (g_root / "rlhf.yaml").string() + " --output " + dir.string() +
                 " --no-report" + vars() + " --var CHAT=" + (g_root / "chat.jsonl").string() +
                 " --var PROMPTS=" + (g_root / "prompts.jsonl").string() +
                 " --var LABEL=" + (g_root / "label_export.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  // The rankings are of the model's own sampled answers, best first by the stated rule.
  std::ifstream in(dir / "rankings" / "rankings.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    ASSERT_GE(j["responses"].size(), 2u) << line;
    EXPECT_EQ(j["ranker"], "simulated");
    std::vector<double> credits = j["credits"];
    EXPECT_TRUE(std::is_sorted(credits.rbegin(), credits.rend())) << line;
    ++n;
  }
  EXPECT_GT(n, 0);
  auto st = state_of(dir);
  for (auto& s : st["stages"]) EXPECT_EQ(s["status"], "done") << s["name"];
  for (const char* d : {"reward", "dpo", "ppo", "reward-label", "dpo-label"})
    EXPECT_TRUE(fs::exists(dir / d / "final" / "config.json")) << d;
  // Chat stages are probed on the held-out set, per kind, with sample answers.
  const auto& ins = st["stages"][3]["probes"];
  ASSERT_TRUE(ins.contains("instruct_accuracy")) << ins.dump();
  EXPECT_TRUE(ins["instruct_accuracy_by_kind"].contains("first_letter")) << ins.dump();
  ASSERT_FALSE(ins["heldout_answers"].empty());
  EXPECT_TRUE(ins["heldout_answers"][0].contains("reference"));
  EXPECT_NE(r.out.find("first_letter"), std::string::npos) << r.out;
  // DPO and PPO are judged against the model they started from (instruct) by the simulated
  // ranker on the same held-out prompts; instruct itself has no baseline.
  EXPECT_FALSE(ins.contains("ranker_win_rate")) << ins.dump();
  for (auto& stage : st["stages"]) {
    if (stage["name"] != "dpo" && stage["name"] != "ppo") continue;
    const auto& w = stage["probes"]["ranker_win_rate"];
    ASSERT_TRUE(w.is_object()) << stage.dump();
    EXPECT_EQ(w["versus"], "instruct");
    EXPECT_EQ(w["prompts"], 8);  // heldout_max
    EXPECT_EQ(w["wins"].get<int>() + w["losses"].get<int>() + w["ties"].get<int>(),
              w["differ"].get<int>());
    EXPECT_TRUE(w["win_rate"].is_null() || w["win_rate"].is_number());
  }
  EXPECT_NE(r.out.find("ranker win rate vs instruct"), std::string::npos) << r.out;
  // A model against itself: every answer the same, nothing decided, no rate.
  CliRun self = run("demo answer --chat --json --model " + (dir / "instruct" / "final").string() +
                    " --versus " + (dir / "instruct" / "final").string() + " --heldout " +
                    (g_root / "chat.jsonl").string() + " --max 6");
  ASSERT_EQ(self.code, 0) << self.err;
  {
    const auto j = nlohmann::json::parse(self.out);  // one JSON line (the config goes to stderr)
    EXPECT_EQ(j["ranker_win_rate"]["prompts"], 6);
    EXPECT_EQ(j["ranker_win_rate"]["differ"], 0);
    EXPECT_TRUE(j["ranker_win_rate"]["win_rate"].is_null());
  }
  // Instruct trained with a quarter of its rows from the general text.
  EXPECT_NE(read_file(dir / "instruct" / "config.yaml").find("replay"), std::string::npos);

  // Bad input to `demo rank` names the file, line and field; nothing is written.
  write_file_atomic(g_root / "noref.jsonl",
                    "{\"prompt\":\"a\",\"reference\":\"b\"}\n{\"prompt\":\"c\"}\n");
  CliRun bad =
      run("demo rank --model " + (dir / "instruct" / "final").string() + " --prompts " +
          (g_root / "noref.jsonl").string() + " --output " + (g_root / "bad-rank.jsonl").string());
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("noref.jsonl:2"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("reference"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(g_root / "bad-rank.jsonl"));
  // A replay ratio outside (0, 1) is refused before anything is written (another tokenizer's
  // data too: tests/train/sft_replay_test.cpp).
  write_file_atomic(g_root / "task.jsonl", "{\"prompt\":\"a\",\"completion\":\" b\"}\n");
  CliRun other =
      run("finetune --init " + (dir / "instruct" / "final").string() + " --data " +
          (g_root / "task.jsonl").string() + " --output " + (g_root / "ft-bad").string() +
          " --replay " + (dir / "shards").string() + " --replay-ratio 1.5");
  EXPECT_EQ(other.code, 2) << other.err;
  EXPECT_NE(other.err.find("--replay-ratio"), std::string::npos) << other.err;
  EXPECT_FALSE(fs::exists(g_root / "ft-bad"));
}
