// PPO end to end on a tiny model: with a rule reward (the number of times a target token appears
// in the answer), PPO raises the rate of the preferred token on held-out prompts while the KL to
// the frozen reference is reported and stays bounded; a run interrupted mid-rollout and resumed
// from its checkpoint ends with bit-identical weights, value head and KL coefficient; --target-kl
// ends the epochs on a batch early; --max-kl with kl_action "stop" stops the run. (The `ppo`
// command's files and bad input: tests/cli/ppo_cli_test.cpp.)
// The model is a random tiny GPT-2 with V = 24 (the target starts at ~1/24 per token); the
// numbers in the expectations are margins measured to leave room for thread-count noise.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/rng.h"
#include "lmforge/io/safetensors.h"
#include "lmforge/train/checkpoint.h"
#include "lmforge/train/ppo.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using namespace lmforge;
using nlohmann::json;

namespace {

constexpr int32_t kTarget = 5, kStop = 1;

ModelConfig tiny() {
  ModelConfig c = ModelConfig::preset("tiny", 24);
  c.n_layer = 2;
  c.n_head = 2;
  c.n_kv_head = 2;
  c.n_embd = 32;
  c.head_dim = 16;
  c.ffn_hidden = 64;
  c.n_ctx = 24;
  c.validate();
  return c;
}

PpoPrompts prompts(int n_train, int n_eval) {
  Rng rng(17);
  PpoPrompts p;
  auto one = [&] {
    std::vector<int32_t> ids(3 + rng.below(3));
    for (auto& t : ids) t = int32_t(8 + rng.below(16));  // never the target or the stop id
    return ids;
  };
  for (int i = 0; i < n_train; ++i) p.train.push_back(one());
  for (int i = 0; i < n_eval; ++i) p.eval.push_back(one());
  p.stop_ids = {kStop};
  return p;
}

std::vector<double> count_target(const std::vector<PpoSample>& s) {
  std::vector<double> r;
  for (const auto& x : s)
    r.push_back(double(std::count(x.response.begin(), x.response.end(), kTarget)));
  return r;
}

PpoConfig config() {
  PpoConfig c;
  c.rollout_batch = 16;
  c.ppo_epochs = 2;
  c.max_new_tokens = 8;
  c.kl_coef = 0.1;
  c.seed = 3;
  return c;
}

TrainLoopConfig loop(const fs::path& dir) {
  TrainLoopConfig lc;
  lc.adamw.weight_decay = 0;
  lc.adamw.beta2 = 0.999f;
  lc.grad_clip = 1.0;
  lc.run_dir = dir;
  lc.keep_checkpoints = 0;
  lc.label = "ppo-test";
  return lc;
}

TrainerState state(int64_t steps, double lr) {
  TrainerState s;
  s.schedule.total_steps = steps;
  s.schedule.lr = lr;
  s.schedule.min_lr = lr;
  s.schedule.warmup_steps = 0;
  s.schedule.decay = parse_lr_decay("constant");
  return s;
}

}  // namespace

TEST(PpoEndToEnd, RaisesTargetRateWithBoundedKl) {
  omp_set_num_threads(1);
  const fs::path dir = test_data::temp_dir("ppo-e2e");
  Transformer policy(tiny());
  policy.init_weights(1);
  Transformer ref(tiny());
  ref.params().copy_from(policy.params());
  PpoObjective obj(policy, ref, count_target, prompts(64, 24), config(), 8, 1);
  const PpoObjective::Eval before = obj.evaluate();
  EXPECT_NEAR(before.kl, 0.0, 1e-6);  // the policy is the reference
  TrainerState st = state(48, 3e-3);
  std::vector<double> rollout_kl;
  TrainHooks hooks;
  hooks.on_step = [&](const StepMetrics& m) {
    for (const char* k :
         {"reward_mean", "kl", "entropy", "clip_frac", "value_loss", "response_len"})
      EXPECT_TRUE(m.extra.count(k)) << k;
    rollout_kl.push_back(m.extra.at("kl"));
  };
  train_loop(obj, st, loop(dir), hooks);
  const PpoObjective::Eval after = obj.evaluate();
  std::fprintf(stderr, "held-out target count %.3f -> %.3f, KL %.3f, length %.2f\n",
               before.mean_reward, after.mean_reward, after.kl, after.response_len);
  EXPECT_GT(after.mean_reward, before.mean_reward + 1.0);
  EXPECT_GT(after.kl, 0.0);
  EXPECT_LT(after.kl, 20.0);  // bounded: far below the ~8·ln 24 of a collapsed policy
  for (double k : rollout_kl) EXPECT_TRUE(std::isfinite(k));
  fs::remove_all(dir);
}

TEST(PpoEndToEnd, ResumeMidRolloutIsExact) {
  omp_set_num_threads(1);
  const fs::path dir_a = test_data::temp_dir("ppo-resume-a"),
                 dir_b = test_data::temp_dir("ppo-resume-b");
  Transformer init(tiny());
  init.init_weights(2);
  PpoConfig cfg = config();
  cfg.adaptive_kl = true;
  cfg.kl_target = 1.0;
  cfg.kl_horizon = 100;
  // Uninterrupted: 6 steps (rollouts at steps 1 and 5; 4 steps per rollout).
  Transformer pa(tiny()), ra(tiny());
  pa.params().copy_from(init.params());
  ra.params().copy_from(init.params());
  PpoObjective oa(pa, ra, count_target, prompts(32, 4), cfg, 8, 1);
  TrainerState sa = state(6, 3e-3);
  train_loop(oa, sa, loop(dir_a), {});
  // Interrupted after step 3 (mid-rollout), resumed from its checkpoint in fresh objects.
  {
    Transformer pb(tiny()), rb(tiny());
    pb.params().copy_from(init.params());
    rb.params().copy_from(init.params());
    PpoObjective ob(pb, rb, count_target, prompts(32, 4), cfg, 8, 1);
    TrainerState sb = state(6, 3e-3);
    sb.schedule.total_steps = 3;
    train_loop(ob, sb, loop(dir_b), {});
  }
  const fs::path ck = dir_b / "checkpoints" / "step-3";
  ASSERT_TRUE(fs::exists(ck / "ppo_state.json"));
  Transformer pb = Transformer::load(ck), rb(tiny());
  rb.params().copy_from(init.params());
  PpoObjective ob(pb, rb, count_target, prompts(32, 4), cfg, 8, 1);
  TrainerState sb = read_trainer_state(ck);
  sb.schedule.total_steps = 6;
  TrainLoopConfig lb = loop(dir_b);
  lb.resume_from = ck;
  train_loop(ob, sb, lb, {});
  ASSERT_EQ(pa.params().numel(), pb.params().numel());
  EXPECT_EQ(0, std::memcmp(pa.params().data(), pb.params().data(), pa.params().numel() * 4));
  EXPECT_EQ(oa.kl_coef(), ob.kl_coef());
  SafetensorsFile va =
      SafetensorsFile::open(dir_a / "checkpoints" / "step-6" / "v_head.safetensors");
  SafetensorsFile vb =
      SafetensorsFile::open(dir_b / "checkpoints" / "step-6" / "v_head.safetensors");
  EXPECT_EQ(
      0, std::memcmp(va.raw("v_head.weight"), vb.raw("v_head.weight"), va.nbytes("v_head.weight")));
  fs::remove_all(dir_a);
  fs::remove_all(dir_b);
}

TEST(PpoEndToEnd, TargetKlEndsEpochsEarlyAndMaxKlStops) {
  omp_set_num_threads(1);
  const fs::path dir = test_data::temp_dir("ppo-kl");
  Transformer policy(tiny()), ref(tiny());
  policy.init_weights(4);
  ref.params().copy_from(policy.params());
  PpoConfig cfg = config();  // 16 rows, B 8, 2 epochs: 4 minibatches per rollout
  cfg.target_kl = 1e-9;
  PpoObjective obj(policy, ref, count_target, prompts(32, 4), cfg, 8, 1);
  ASSERT_EQ(obj.micro_per_rollout(), 4);
  TrainerState st = state(4, 3e-3);
  std::vector<int64_t> pos;
  TrainHooks hooks;
  hooks.on_step = [&](const StepMetrics&) { pos.push_back(obj.position()); };
  train_loop(obj, st, loop(dir), hooks);
  // Step 1 of a batch sees ratio 1 (KL 0); step 2 has moved, so the batch's epochs end there.
  EXPECT_EQ(pos, (std::vector<int64_t>{1, 4, 5, 8}));

  Transformer p2(tiny()), r2(tiny());
  p2.params().copy_from(ref.params());
  r2.params().copy_from(ref.params());
  PpoConfig stop = config();
  stop.max_kl = 1e-6;
  stop.kl_action = "stop";
  PpoObjective o2(p2, r2, count_target, prompts(32, 4), stop, 8, 1);
  TrainerState s2 = state(8, 3e-3);
  // The first rollout is sampled by the reference itself (KL 0); the second has drifted.
  try {
    train_loop(o2, s2, loop(dir / "stop"), {});
    ADD_FAILURE() << "expected the KL bound to stop the run";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("--max-kl"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s2.step, 4);
  fs::remove_all(dir);
}

// A score that carries no information (the same +2 for every answer) must not teach anything:
// with the scores centred on their batch mean, the answers' length stays where it was. (With the
// mean kept and a critic stuck at 0, GAE paid short answers more per token: a length bias.)
TEST(PpoEndToEnd, ConstantScoreLeavesLengthAlone) {
  omp_set_num_threads(1);
  const fs::path dir = test_data::temp_dir("ppo-constant");
  Transformer policy(tiny());
  policy.init_weights(5);
  Transformer ref(tiny());
  ref.params().copy_from(policy.params());
  PpoConfig cfg = config();
  cfg.missing_eos_penalty = 0;  // only the score's offset is under test
  auto constant = [](const std::vector<PpoSample>& s) {
    return std::vector<double>(s.size(), 2.0);
  };
  PpoObjective obj(policy, ref, constant, prompts(64, 24), cfg, 8, 1);
  const PpoObjective::Eval before = obj.evaluate();
  TrainerState st = state(48, 3e-3);
  train_loop(obj, st, loop(dir), {});
  const PpoObjective::Eval after = obj.evaluate();
  std::fprintf(stderr, "constant score: length %.2f -> %.2f, KL %.3f\n", before.response_len,
               after.response_len, after.kl);
  EXPECT_NEAR(after.response_len, before.response_len, 0.15 * before.response_len + 0.5);
  EXPECT_LT(after.kl, 2.0);
  fs::remove_all(dir);
}
