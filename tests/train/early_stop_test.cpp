// Best-weights selection and early stopping (train/early_stop.h): the best evaluation's weights
// are restored, ties go to the tie metric, patience counts evaluations without improvement, the
// file lets a resumed run know the best so far; and the trainer ends a run when the hook asks,
// saving that step as the last one so that a resume finds the run finished.
#include "lmforge/train/early_stop.h"

#include <gtest/gtest.h>
#include <omp.h>

#include "lmforge/core/file_util.h"
#include "lmforge/train/stage.h"
#include "support/reward_fixture.h"

namespace lmforge {
namespace {
namespace fs = std::filesystem;

TEST(BestWeights, RestoresTheBestAndCountsPatience) {
  std::vector<float> w = {1, 2, 3}, h = {10};
  EarlyStopConfig c;
  c.metric = "val_loss";
  c.patience = 2;
  BestWeights best("", c, {{w.data(), w.size()}, {h.data(), h.size()}});
  EXPECT_FALSE(best.observe(0, {{"val_loss", 2.0}}));
  w = {4, 5, 6};
  h = {11};
  EXPECT_FALSE(best.observe(10, {{"val_loss", 1.0}}));  // better: kept
  w = {7, 8, 9};
  h = {12};
  EXPECT_FALSE(best.observe(20, {{"val_loss", 1.5}}));  // worse: 1 without improvement
  EXPECT_TRUE(best.observe(30, {{"val_loss", 1.2}}));   // worse again: patience 2 reached
  EXPECT_EQ(best.best_step(), 10);
  EXPECT_DOUBLE_EQ(best.best_value(), 1.0);
  ASSERT_TRUE(best.restore());
  EXPECT_EQ(w, (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(h, (std::vector<float>{11}));
}

TEST(BestWeights, LatestBestIsNotRestoredAndMissingMetricNeverWins) {
  std::vector<float> w = {1};
  EarlyStopConfig c;
  c.metric = "acc";
  c.higher_is_better = true;
  BestWeights best("", c, {{w.data(), 1}});
  best.observe(0, {{"other", 1.0}});  // no "acc": not a candidate
  EXPECT_FALSE(best.has_best());
  best.observe(5, {{"acc", 0.2}});
  w[0] = 2;
  best.observe(9, {{"acc", 0.3}});
  EXPECT_EQ(best.best_step(), 9);
  EXPECT_FALSE(best.restore());  // the last evaluation is the best: nothing to do
  EXPECT_EQ(w[0], 2);
}

TEST(BestWeights, TiesGoToTheTieMetricAndPatienceZeroNeverStops) {
  std::vector<float> w = {1};
  EarlyStopConfig c;
  c.metric = "reward_accuracy";
  c.higher_is_better = true;
  c.tie_metric = "val_loss";
  BestWeights best("", c, {{w.data(), 1}});
  best.observe(0, {{"reward_accuracy", 0.75}, {"val_loss", 0.9}});
  w[0] = 2;
  best.observe(1, {{"reward_accuracy", 0.75}, {"val_loss", 0.7}});  // same accuracy, lower loss
  EXPECT_EQ(best.best_step(), 1);
  w[0] = 3;
  for (int s = 2; s < 50; ++s)
    EXPECT_FALSE(best.observe(s, {{"reward_accuracy", 0.5}, {"val_loss", 0.1}}));
  ASSERT_TRUE(best.restore());
  EXPECT_EQ(w[0], 2);
}

TEST(BestWeights, FileCarriesTheBestAcrossAResume) {
  const fs::path dir = test_data::temp_dir("early-stop");
  const fs::path file = dir / "best_weights.bin";
  EarlyStopConfig c;
  c.metric = "val_loss";
  {
    std::vector<float> w = {0.5f, -1.25f};
    BestWeights best(file, c, {{w.data(), 2}});
    best.observe(0, {{"val_loss", 3.0}, {"kl", 0.0}});
    w = {9, 9};
    best.observe(4, {{"val_loss", 4.0}});
  }
  std::vector<float> w = {7, 7};
  BestWeights again(file, c, {{w.data(), 2}});
  ASSERT_TRUE(again.load());
  EXPECT_EQ(again.best_step(), 0);
  EXPECT_DOUBLE_EQ(again.best_eval().at("kl"), 0.0);
  EXPECT_FALSE(again.observe(6, {{"val_loss", 3.5}}));
  ASSERT_TRUE(again.restore());
  EXPECT_EQ(w, (std::vector<float>{0.5f, -1.25f}));
  // Another metric or size is not this run's file.
  std::vector<float> other(3);
  EXPECT_FALSE(BestWeights(file, c, {{other.data(), 3}}).load());
  c.metric = "reward_accuracy";
  EXPECT_FALSE(BestWeights(file, c, {{w.data(), 2}}).load());
  fs::remove_all(dir);
}

// A constant stream of one token row: the loss falls, which is all the loop needs.
class RowSource : public BatchSource {
 public:
  explicit RowSource(int T) : T_(T) {}
  void next(int32_t* ids, int32_t* targets) override {
    for (int t = 0; t < T_; ++t) ids[t] = 1 + t % 5, targets[t] = 1 + (t + 1) % 5;
    ++pos_;
  }
  int64_t position() const override { return pos_; }
  void set_position(int64_t p) override { pos_ = p; }

 private:
  int T_;
  int64_t pos_ = 0;
};

TEST(TrainLoop, StopAfterEvalEndsTheRunAndAResumeFindsItFinished) {
  omp_set_num_threads(1);
  const fs::path dir = test_data::temp_dir("early-stop-loop");
  const fs::path init = rlhf_test::write_tiny_model(dir / "init", 3);
  Transformer m = Transformer::load(init);
  RowSource src(16);
  LanguageModelObjective obj(m, src, 1, 16);
  TrainerState st;
  st.schedule.lr = 1e-3;
  st.schedule.total_steps = 20;
  TrainLoopConfig lc;
  lc.run_dir = dir / "run";
  lc.eval_every = 3;
  fs::create_directories(lc.run_dir);
  TrainHooks hooks;
  int evals = 0;
  hooks.eval = [&] { return std::map<std::string, double>{{"val_loss", 1.0 + evals++}}; };
  std::vector<int64_t> asked;
  hooks.stop_after_eval = [&](int64_t step, const std::map<std::string, double>&) {
    asked.push_back(step);
    return step >= 9;
  };
  TrainResult r = train_loop(obj, st, lc, hooks);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_FALSE(r.interrupted);
  EXPECT_EQ(r.steps_done, 9);
  EXPECT_EQ(asked, (std::vector<int64_t>{3, 6, 9}));
  EXPECT_EQ(st.schedule.total_steps, 9);
  ASSERT_TRUE(fs::exists(lc.run_dir / "checkpoints" / "step-9"));
  TrainerState saved = read_trainer_state(lc.run_dir / "checkpoints" / "step-9");
  EXPECT_EQ(saved.step, 9);
  EXPECT_EQ(saved.schedule.total_steps, 9);  // a resume: nothing left to do
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lmforge
