// The ppo stage from an instruction-tuned ("SFT") model: a tiny model trained to answer prompts
// in the ChatML template, saying the target word in ~30% of its answers, then run_ppo with the
// rule reward "times the target word occurs in the answer" (--reward-word) raises the held-out
// mean reward (summary.json: start vs final) while the held-out KL to the reference is reported
// and bounded.
// Measured (1 thread): held-out mean reward 0.28 -> 1.75 with KL 3.0 nats per answer; the
// expectations ask for +0.25 and KL in (0, 10).
#include <gtest/gtest.h>
#include <omp.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/train/optimizer.h"
#include "lmforge/train/ppo.h"
#include "lmforge/train/reward_data.h"
#include "support/reward_fixture.h"
#include "support/train/sft_model.h"

namespace fs = std::filesystem;
using namespace lmforge;
using nlohmann::json;

namespace {}  // namespace

TEST(PpoStage, RaisesPreferredRateFromSftModelWithBoundedKl) {
  omp_set_num_threads(1);
  const fs::path dir = test_data::temp_dir("ppo-stage");
  const fs::path sft = rlhf_test::write_sft_model(dir);
  {
    std::ofstream f(dir / "prompts.jsonl");
    Rng rng(99);
    for (int i = 0; i < 96; ++i) f << json{{"prompt", rlhf_test::prompt_for(rng)}}.dump() << "\n";
  }
  PpoStageOptions o;
  o.stage.init = sft;
  o.stage.output = dir / "run";
  o.stage.lr = 2e-3;
  o.stage.warmup_steps = 0;
  o.stage.lr_decay = "constant";
  o.stage.batch_size = 8;
  o.stage.max_steps = 24;
  o.stage.threads = 1;
  o.prompts = dir / "prompts.jsonl";
  o.eval_count = 32;
  o.reward_word = rlhf_test::kTarget;
  o.ppo.rollout_batch = 16;
  o.ppo.ppo_epochs = 2;
  o.ppo.max_new_tokens = 12;
  o.ppo.kl_coef = 0.2;
  PpoStageResult r = run_ppo(o);
  std::fprintf(stderr, "held-out mean reward %.3f -> %.3f, KL %.3f\n", r.start_reward,
               r.final_reward, r.final_kl);
  json s = json::parse(read_file(dir / "run" / "summary.json"));
  EXPECT_DOUBLE_EQ(s["mean_reward"].get<double>(), r.final_reward);
  EXPECT_DOUBLE_EQ(s["start"]["mean_reward"].get<double>(), r.start_reward);
  EXPECT_GT(r.final_reward, r.start_reward + 0.25);
  EXPECT_GT(r.final_kl, 0.0);
  EXPECT_LT(r.final_kl, 10.0);
  EXPECT_TRUE(fs::exists(dir / "run" / "final" / "model.safetensors"));
  fs::remove_all(dir);
}

// PPO refuses a reward model that ranks held-out answers poorly (on enough held-out rankings),
// before writing anything; on a handful of held-out rankings it only warns.
TEST(PpoStage, RefusesAPoorRewardModel) {
  omp_set_num_threads(1);
  const fs::path dir = test_data::temp_dir("ppo-poor-rm");
  const fs::path init = rlhf_test::write_tiny_model(dir / "m", 5);
  {
    std::ofstream f(dir / "prompts.jsonl");
    for (int i = 0; i < 8; ++i)
      f << json{{"prompt", "say something " + std::to_string(i)}}.dump() << "\n";
  }
  auto rm_config = [&](double acc, int n_val) {
    fs::create_directories(dir / "rm");
    write_file_atomic(dir / "rm" / "reward_config.json", json{{"format", "lmforge-reward"},
                                                              {"version", 1},
                                                              {"reward_accuracy", acc},
                                                              {"val_rankings", n_val}}
                                                             .dump());
  };
  PpoStageOptions o;
  o.stage.init = init;
  o.stage.output = dir / "run";
  o.stage.threads = 1;
  o.prompts = dir / "prompts.jsonl";
  o.reward_model = dir / "rm";
  rm_config(0.52, 40);
  try {
    run_ppo(o);
    FAIL() << "a reward model at 52% on 40 held-out rankings was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("reward_accuracy"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.stage.output));
  // Few held-out rankings: not refused for its accuracy (it fails later: this directory holds
  // no model, which is another error).
  rm_config(0.52, 4);
  try {
    run_ppo(o);
  } catch (const std::exception& e) {
    EXPECT_EQ(std::string(e.what()).find("min-reward-accuracy"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}
