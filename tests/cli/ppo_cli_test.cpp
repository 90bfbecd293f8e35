// `lmforge ppo` through the binary: a short run with a rule reward (--reward-word) writes
// config.yaml, metrics.jsonl with the PPO keys, checkpoints with the value head and rollout state,
// final/ and summary.json (mean_reward, kl, start); --resume of a finished run rewrites final/;
// bad input (no reward or two, a prompt longer than the context, a rollout batch that does not
// split into minibatches, a reward model with another tokenizer) exits 2 before anything is
// written; a reward model directory scores the answers; LoRA with --merge writes both models.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/model/transformer.h"
#include "lmforge/train/reward_model.h"
#include "support/cli_run.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using namespace lmforge;
using nlohmann::json;

namespace {

fs::path make_model(const fs::path& dir, int vocab = 300) {
  fs::create_directories(dir);
  Tokenizer tok = test_data::tiny_tokenizer(test_data::tiny_documents(60, 4), vocab);
  tok.save(dir);
  ModelConfig c = ModelConfig::preset("tiny", tok.vocab_size());
  c.n_layer = 1;
  c.n_head = 2;
  c.n_kv_head = 2;
  c.n_embd = 16;
  c.head_dim = 8;
  c.ffn_hidden = 64;
  c.n_ctx = 64;
  c.eos_token_id = c.bos_token_id = tok.eot_id();
  c.validate();
  Transformer m(c);
  m.init_weights(5);
  m.save(dir);
  return dir;
}

// A reward model directory as `lmforge reward` writes it, with a random score head.
fs::path make_reward_model(const fs::path& dir, int vocab) {
  make_model(dir, vocab);
  ScoreHead head(16);
  head.init(3);
  head.save(dir / kScoreHeadFile);
  write_file_atomic(dir / kRewardConfigFile,
                    json{{"format", kRewardFormat}, {"version", 1}}.dump());
  return dir;
}

fs::path write_prompts(const fs::path& file, int n, const std::string& extra_line = "") {
  std::ofstream f(file);
  const char* subj[] = {"the cat", "a dog", "my friend", "the old bird"};
  for (int i = 0; i < n; ++i)
    f << json{{"prompt", std::string(subj[i % 4]) + " sees"}}.dump() << "\n";
  if (!extra_line.empty()) f << extra_line << "\n";
  return file;
}

const std::string kShort =
    " --reward-word e --max-steps 4 --rollout-batch 4 --batch-size 2 --ppo-epochs 2"
    " --max-new-tokens 6 --threads 1 --lr 1e-3 --save-every 2 --seed 1";

}  // namespace

TEST(PpoCli, ShortRunWritesEverything) {
  const fs::path d = test_data::temp_dir("ppo-cli");
  make_model(d / "m");
  write_prompts(d / "p.jsonl", 20);
  const std::string base = "ppo --init " + (d / "m").string() + " --prompts " +
                           (d / "p.jsonl").string() + " --output " + (d / "run").string();
  CliRun r = run_lmforge(d, base + kShort);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("held-out mean reward"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(d / "run" / "config.yaml"));
  EXPECT_TRUE(fs::exists(d / "run" / "final" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(d / "run" / "final" / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(d / "run" / "checkpoints" / "step-2" / "v_head.safetensors"));
  EXPECT_TRUE(fs::exists(d / "run" / "checkpoints" / "step-4" / "ppo_state.json"));
  json s = json::parse(read_file(d / "run" / "summary.json"));
  EXPECT_EQ(s["stage"], "ppo");
  EXPECT_EQ(s["steps"], 4);
  EXPECT_TRUE(s["mean_reward"].is_number());
  EXPECT_TRUE(s["kl"].is_number());
  EXPECT_TRUE(s["val_loss"].is_number());
  EXPECT_TRUE(s["start"]["mean_reward"].is_number());
  EXPECT_NEAR(s["start"]["kl"].get<double>(), 0.0, 1e-5);  // the policy starts as the reference
  std::ifstream mf(d / "run" / "metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(mf, line)) {
    json m = json::parse(line);
    for (const char* k :
         {"reward_mean", "kl", "entropy", "clip_frac", "value_loss", "response_len"})
      EXPECT_TRUE(m.contains(k)) << k << " missing in " << line;
    ++lines;
  }
  EXPECT_EQ(lines, 4);
  CliRun again = run_lmforge(d, base + kShort + " --resume");
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("already finished"), std::string::npos) << again.err;
  fs::remove_all(d);
}

TEST(PpoCli, BadInputExitsTwoBeforeWriting) {
  const fs::path d = test_data::temp_dir("ppo-cli-bad");
  make_model(d / "m");
  write_prompts(d / "p.jsonl", 20);
  std::string long_prompt = "the cat sees";
  for (int i = 0; i < 40; ++i) long_prompt += " the cat sees the moon";
  write_prompts(d / "long.jsonl", 5, json{{"prompt", long_prompt}}.dump());
  const std::string init = " --init " + (d / "m").string() + " --output " + (d / "run").string();
  const std::string flags =
      " --max-steps 4 --rollout-batch 4 --batch-size 2 --max-new-tokens 6 --threads 1";

  CliRun none = run_lmforge(d, "ppo" + init + " --prompts " + (d / "p.jsonl").string() + flags);
  EXPECT_EQ(none.code, 2) << none.err;
  EXPECT_NE(none.err.find("--reward"), std::string::npos) << none.err;

  CliRun too_long = run_lmforge(
      d, "ppo" + init + " --reward-word e --prompts " + (d / "long.jsonl").string() + flags);
  EXPECT_EQ(too_long.code, 2) << too_long.err;
  EXPECT_NE(too_long.err.find("long.jsonl:6"), std::string::npos) << too_long.err;
  EXPECT_NE(too_long.err.find("context"), std::string::npos) << too_long.err;

  CliRun split =
      run_lmforge(d, "ppo" + init + " --reward-word e --prompts " + (d / "p.jsonl").string() +
                         " --max-steps 4 --rollout-batch 5 --batch-size 2 --threads 1");
  EXPECT_EQ(split.code, 2) << split.err;
  EXPECT_NE(split.err.find("--rollout-batch"), std::string::npos) << split.err;

  EXPECT_FALSE(fs::exists(d / "run" / "config.yaml"));
  fs::remove_all(d);
}

TEST(PpoCli, RewardModelScoresAndOtherTokenizerIsRefused) {
  const fs::path d = test_data::temp_dir("ppo-cli-rm");
  make_model(d / "m");
  make_reward_model(d / "rm", 300);
  make_reward_model(d / "rm-other", 280);
  write_prompts(d / "p.jsonl", 12);
  const std::string flags =
      " --prompts " + (d / "p.jsonl").string() +
      " --max-steps 2 --rollout-batch 4 --batch-size 2 --ppo-epochs 1 --max-new-tokens 4 "
      "--threads 1";
  CliRun other =
      run_lmforge(d, "ppo --init " + (d / "m").string() + " --reward " + (d / "rm-other").string() +
                         " --output " + (d / "bad").string() + flags);
  EXPECT_EQ(other.code, 2) << other.err;
  EXPECT_NE(other.err.find("tokenizer"), std::string::npos) << other.err;
  EXPECT_FALSE(fs::exists(d / "bad" / "config.yaml"));

  CliRun ok = run_lmforge(d, "ppo --init " + (d / "m").string() + " --reward " +
                                 (d / "rm").string() + " --output " + (d / "run").string() + flags);
  ASSERT_EQ(ok.code, 0) << ok.err;
  json s = json::parse(read_file(d / "run" / "summary.json"));
  EXPECT_NE(s["mean_reward"].get<double>(), 0.0);  // a random head scores every answer

  CliRun lora =
      run_lmforge(d, "ppo --init " + (d / "m").string() + " --reward " + (d / "rm").string() +
                         " --output " + (d / "lora").string() + flags + " --lora-rank 2 --merge");
  ASSERT_EQ(lora.code, 0) << lora.err;
  EXPECT_TRUE(fs::exists(d / "lora" / "final" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(d / "lora" / "adapter" / "adapter_model.safetensors"));
  fs::remove_all(d);
}
