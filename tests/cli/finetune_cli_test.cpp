// `lmforge finetune` as a user runs it, on a tiny synthetic task ("swap a b =" -> " b a", word
// pairs in validation never seen in training): the task metric (exact match by greedy generation)
// rises from the base model's; LoRA with --merge writes a loadable merged model and the adapter;
// padding mode runs; bad input exits 2 naming file:line:field.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/core/file_util.h"
#include "lmforge/model/lora.h"
#include "lmforge/model/transformer.h"
#include "support/cli_run.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path g_root;

CliRun run(const std::string& args) {
  return run_lmforge(g_root, args);
}

void write(const fs::path& p, const std::string& s) {
  lmforge::write_file_atomic(p, s);
}

// Swap-task JSONL: 90 ordered pairs of 10 words, 80 to train and 10 held out.
void write_task(const fs::path& dir) {
  const char* w[] = {"cat", "dog", "sun", "moon", "tree", "fish", "bird", "rock", "star", "lake"};
  std::string train, val, text;
  int k = 0;
  for (int a = 0; a < 10; ++a)
    for (int b = 0; b < 10; ++b) {
      if (a == b) continue;
      json j = {{"prompt", std::string("swap ") + w[a] + " " + w[b] + " ="},
                {"completion", std::string(" ") + w[b] + " " + w[a]}};
      // Every 9th pair is validation: each word appears in training in both slots.
      (k++ % 9 == 4 ? val : train) += j.dump() + "\n";
      text += std::string("the ") + w[a] + " and the " + w[b] + " swap.\n\n";
    }
  write(dir / "train.jsonl", train);
  write(dir / "val.jsonl", val);
  write(dir / "corpus.txt", text);
}

class FinetuneCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_root = lmforge::test_data::temp_dir("finetune-cli");
    write_task(g_root);
    std::string t = g_root.string();
    ASSERT_EQ(
        run("tokenizer train --input " + t + "/corpus.txt --vocab-size 300 --output " + t + "/tok")
            .code,
        0);
    ASSERT_EQ(run("prepare --tokenizer " + t + "/tok --input " + t + "/corpus.txt --output " + t +
                  "/data")
                  .code,
              0);
    CliRun r = run("pretrain --data " + t + "/data --output " + t +
                   "/base --n-layer 2 --n-head 2 --n-embd 64 --n-ctx 32 --max-steps 30 "
                   "--batch-size 8 --threads 1 --peak-gflops 10");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(g_root); }
  std::string base() const { return (g_root / "base" / "final").string(); }
  std::string path(const std::string& f) const { return (g_root / f).string(); }
};

}  // namespace

TEST_F(FinetuneCli, RaisesTheTaskMetricOverTheBaseModel) {
  CliRun r = run("finetune --init " + base() + " --data " + path("train.jsonl") + " --val-data " +
                 path("val.jsonl") + " --output " + path("ft") +
                 " --lr 3e-3 --max-steps 150 --batch-size 8 --eval-every 50 --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("start (step 0): exact_match"), std::string::npos) << r.err;
  json s = json::parse(lmforge::read_file(g_root / "ft" / "summary.json"));
  EXPECT_EQ(s["stage"], "finetune");
  EXPECT_EQ(s["steps"], 150);
  EXPECT_EQ(s["task_metric"]["name"], "exact_match");
  const double start = s["task_metric"]["start"], end = s["task_metric"]["value"];
  EXPECT_LE(start, 0.1);
  EXPECT_GE(end, start + 0.5) << s.dump();
  EXPECT_LT(s["val_loss"].get<double>(), s["start"]["val_loss"].get<double>());
  // metrics.jsonl carries the evaluation keys at eval steps.
  std::istringstream in(lmforge::read_file(g_root / "ft" / "metrics.jsonl"));
  std::string line;
  int with_metric = 0;
  while (std::getline(in, line)) with_metric += json::parse(line).contains("exact_match");
  EXPECT_EQ(with_metric, 3);
  // final/ is a model directory with the tokenizer.
  EXPECT_NO_THROW(lmforge::Transformer::load(g_root / "ft" / "final"));
  EXPECT_TRUE(fs::exists(g_root / "ft" / "final" / "tokenizer.json"));
}

TEST_F(FinetuneCli, LoraMergeAndPadding) {
  CliRun r = run("finetune --init " + base() + " --data " + path("train.jsonl") + " --val-data " +
                 path("val.jsonl") + " --output " + path("lora") +
                 " --lr 5e-3 --max-steps 40 --batch-size 8 --threads 1 --packing pad"
                 " --lora-rank 4 --lora-targets attn_qkv,ffn_up --merge");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("LoRA: rank 4"), std::string::npos);
  EXPECT_TRUE(lmforge::LoraAdapters::present(g_root / "lora" / "adapter"));
  EXPECT_NO_THROW(lmforge::Transformer::load(g_root / "lora" / "final"));
  json s = json::parse(lmforge::read_file(g_root / "lora" / "summary.json"));
  EXPECT_LT(s["val_loss"].get<double>(), s["start"]["val_loss"].get<double>());
  json cfg = json::parse(lmforge::read_file(g_root / "lora" / "adapter" / "adapter_config.json"));
  EXPECT_EQ(cfg["r"], 4);
}

TEST_F(FinetuneCli, BadInputExitsTwoNamingTheLine) {
  write(g_root / "empty.jsonl",
        "{\"prompt\": \"a\", \"completion\": \"b\"}\n"
        "{\"prompt\": \"a\", \"completion\": \"\"}\n");
  CliRun r = run("finetune --init " + base() + " --data " + path("empty.jsonl") + " --output " +
                 path("bad1"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("empty.jsonl:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("completion"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(g_root / "bad1"));

  std::string long_prompt(400, 'x');
  write(g_root / "long.jsonl",
        "{\"prompt\": \"a\", \"completion\": \" b\"}\n"
        "{\"prompt\": \"a\", \"completion\": \" b\"}\n"
        "{\"prompt\": \"" +
            long_prompt + "\", \"completion\": \" b\"}\n");
  r = run("finetune --init " + base() + " --data " + path("long.jsonl") + " --output " +
          path("bad2") + " --on-overflow error");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("long.jsonl:3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(g_root / "bad2"));
  // Truncation (the default) warns with a count and trains on the rest.
  r = run("finetune --init " + base() + " --data " + path("long.jsonl") + " --output " +
          path("trunc") + " --max-steps 2 --threads 1 --val-fraction 0");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("1 example(s) longer than the context"), std::string::npos) << r.err;

  r = run("finetune --init " + path("nowhere") + " --data " + path("train.jsonl") + " --output " +
          path("bad3"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  r = run("finetune --init " + base() + " --data " + path("train.jsonl") + " --output " +
          path("bad4") + " --merge");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--lora-rank"), std::string::npos) << r.err;
}
