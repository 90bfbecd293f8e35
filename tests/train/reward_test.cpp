// Reward model stage: learns a held-out synthetic preference (answers containing "please" beat
// ones that do not) with >= 90% pairwise accuracy, writes a loadable RM directory whose
// RewardModel scores match training's, resumes, and refuses bad input before writing anything.
#include <gtest/gtest.h>

#include <fstream>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/chat_render.h"
#include "lmforge/loss/ranking.h"
#include "lmforge/train/reward_model.h"
#include "lmforge/train/reward_train.h"
#include "support/reward_fixture.h"

namespace lmforge {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

RewardTrainOptions options(const fs::path& init, const fs::path& data, const fs::path& out) {
  RewardTrainOptions o;
  o.stage = reward_default_stage_options();
  o.stage.init = init;
  o.stage.output = out;
  o.stage.lr = 3e-3;
  o.stage.warmup_steps = 10;
  o.stage.weight_decay = 0.0;
  o.stage.epochs = 3;
  o.stage.batch_size = 4;
  o.stage.eval_every = 0;
  o.stage.threads = 1;  // a shared 2-core machine: a second thread only waits at barriers
  o.data = data;
  o.val_fraction = 0.2;
  return o;
}

// Pairwise accuracy of a loaded RewardModel on fresh prompts/answers (never seen in training).
double fresh_accuracy(RewardModel& rm, uint64_t seed, int n) {
  Rng rng(seed);
  int right = 0;
  for (int i = 0; i < n; ++i) {
    std::string p = rlhf_test::prompt_for(rng);
    double with = rm.score_text(p, rlhf_test::answer(rng, 1));
    double without = rm.score_text(p, rlhf_test::answer(rng, 0));
    right += with > without;
  }
  return double(right) / n;
}

class RewardStage : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_data::temp_dir("reward");
    model_ = rlhf_test::write_tiny_model(dir_ / "base", 11);
    data_ = rlhf_test::write_rankings(dir_ / "rankings.jsonl", 300, 21);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_, model_, data_;
};

TEST_F(RewardStage, LearnsHeldOutPreferenceBothLosses) {
  for (const char* loss : {"listwise", "pairwise"}) {
    RewardTrainOptions o = options(model_, data_, dir_ / (std::string("rm-") + loss));
    o.loss = loss;
    RewardTrainResult r = run_reward(o);
    ASSERT_FALSE(r.train.interrupted);
    const json summary = json::parse(read_file(o.stage.output / "summary.json"));
    EXPECT_EQ(summary["stage"], "reward");
    EXPECT_EQ(summary["reward_accuracy_on"], "val");
    // Before training the random head ranks about half the pairs right.
    EXPECT_LT(summary["start"]["reward_accuracy"].get<double>(), 0.8) << loss;
    EXPECT_GE(summary["reward_accuracy"].get<double>(), 0.9) << loss;
    EXPECT_GT(summary["margin"].get<double>(), 0.0) << loss;
    // metrics.jsonl: one line per step, the last with the eval keys.
    std::ifstream mf(o.stage.output / "metrics.jsonl");
    std::string line, last;
    int lines = 0;
    while (std::getline(mf, line)) last = line, ++lines;
    EXPECT_EQ(lines, r.train.steps_done);
    json lj = json::parse(last);
    EXPECT_TRUE(lj.contains("reward_accuracy") && lj.contains("train_accuracy") &&
                lj.contains("val_loss"));

    RewardModel rm = RewardModel::load(r.final_dir);
    EXPECT_EQ(rm.info()["format"], "lmforge-reward");
    EXPECT_EQ(rm.info()["loss"], loss);
    EXPECT_STREQ(rm.renderer().mode(), "chatml");
    EXPECT_GE(fresh_accuracy(rm, 99, 100), 0.9) << loss;
    // score() over rows in one padded batch equals scoring each row alone.
    std::vector<std::vector<int32_t>> rows = {
        rm.render("say something about cats", "please"),
        rm.render("say something about dogs", "the red ball likes a moon please cat")};
    std::vector<double> both = rm.score(rows);
    EXPECT_NEAR(both[0], rm.score({rows[0]})[0], 1e-5);
    EXPECT_NEAR(both[1], rm.score({rows[1]})[0], 1e-5);
  }
}

TEST_F(RewardStage, ResumeMatchesUninterruptedRun) {
  RewardTrainOptions full = options(model_, data_, dir_ / "full");
  full.stage.max_steps = 12;
  full.stage.save_every = 6;
  full.stage.keep_checkpoints = 0;
  run_reward(full);
  // A second run whose last checkpoint and final/ are then removed, so --resume continues from
  // step-6 (optimizer moments, head and data position restored) and repeats steps 7..12.
  RewardTrainOptions part = full;
  part.stage.output = dir_ / "part";
  run_reward(part);
  fs::remove_all(part.stage.output / "final");
  fs::remove_all(part.stage.output / "checkpoints" / "step-12");
  fs::remove(part.stage.output / "summary.json");
  part.stage.resume = true;
  run_reward(part);
  RewardModel a = RewardModel::load(full.stage.output / "final");
  RewardModel b = RewardModel::load(part.stage.output / "final");
  std::vector<int32_t> row = a.render("say something about fish", "a cat please eats");
  EXPECT_EQ(a.score({row})[0], b.score({row})[0]);
}

TEST_F(RewardStage, LoraTrainsAdaptersAndHeadIntoOneDirectory) {
  RewardTrainOptions o = options(model_, data_, dir_ / "rm-lora");
  o.stage.lora_rank = 4;
  o.stage.lora_targets = "attn_qkv,ffn_up";
  o.stage.max_steps = 40;
  o.stage.lr = 1e-2;
  RewardTrainResult r = run_reward(o);
  EXPECT_TRUE(fs::exists(o.stage.output / "adapter" / "adapter_config.json"));
  EXPECT_FALSE(fs::exists(r.final_dir / "adapter_config.json"));  // merged: one plain model
  const json summary = json::parse(read_file(o.stage.output / "summary.json"));
  EXPECT_GT(summary["reward_accuracy"].get<double>(),
            summary["start"]["reward_accuracy"].get<double>());
  // The merged directory carries what the adapters learned: fresh pairs ranked mostly right.
  RewardModel rm = RewardModel::load(r.final_dir);
  const double fresh = fresh_accuracy(rm, 98, 100);
  std::fprintf(stderr, "LoRA reward model: held-out %.3f, fresh %.3f\n",
               summary["reward_accuracy"].get<double>(), fresh);
  EXPECT_GE(fresh, summary["reward_accuracy"].get<double>() - 0.15);
  EXPECT_GT(fresh, 0.7);
}

TEST_F(RewardStage, BadInputIsRefusedBeforeWriting) {
  auto expect_input_error = [&](const std::string& jsonl, int line, const std::string& field) {
    fs::path f = dir_ / "bad.jsonl";
    std::ofstream(f) << jsonl;
    RewardTrainOptions o = options(model_, f, dir_ / "bad-run");
    try {
      run_reward(o);
      ADD_FAILURE() << "no error for " << jsonl;
    } catch (const InputError& e) {
      EXPECT_EQ(e.line(), line) << e.what();
      EXPECT_EQ(e.field(), field) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir_ / "bad-run")) << "wrote output before failing";
  };
  const std::string ok = R"({"prompt": "p", "responses": ["a please", "b"]})"
                         "\n";
  expect_input_error(ok + R"({"prompt": "p", "responses": ["only one"]})"
                          "\n",
                     2, "responses");
  expect_input_error(ok + ok +
                         R"({"prompt": "p", "responses": ["x", "y", " x"]})"
                         "\n",
                     3, "responses[2]");
  std::string long_answer;
  for (int i = 0; i < 80; ++i) long_answer += "cat ";
  expect_input_error(ok + R"({"prompt": "p", "chosen": ")" + long_answer +
                         R"(", "rejected": "b"})"
                         "\n",
                     2, "responses[0]");
  std::string long_prompt;
  for (int i = 0; i < 80; ++i) long_prompt += "dog ";
  expect_input_error(R"({"prompt": ")" + long_prompt +
                         R"(", "chosen": "a", "rejected": "b"})"
                         "\n",
                     1, "prompt");
}

TEST_F(RewardStage, RefusesAnotherTokenizer) {
  RewardTrainOptions o = options(model_, data_, dir_ / "rm");
  o.stage.max_steps = 2;
  RewardTrainResult r = run_reward(o);
  RewardModel rm = RewardModel::load(r.final_dir);
  EXPECT_NO_THROW(rm.require_same_tokenizer(Tokenizer::load(model_), model_));
  Tokenizer other = test_data::tiny_tokenizer(test_data::tiny_documents(50, 3), 300);
  EXPECT_THROW(rm.require_same_tokenizer(other, dir_ / "other"), InputError);
  // Not a reward model directory / a newer version.
  EXPECT_THROW(RewardModel::load(model_), InputError);
  json info = rm.info();
  info["version"] = kRewardVersion + 1;
  write_file_atomic(r.final_dir / kRewardConfigFile, info.dump());
  EXPECT_THROW(RewardModel::load(r.final_dir), InputError);
}

}  // namespace
}  // namespace lmforge

namespace lmforge {
namespace {

TEST(ResponseRenderer, RawModeWithoutChatMarkers) {
  TokenizerTrainOptions opt;
  opt.vocab_size = 300;
  opt.progress = false;
  opt.threads = 1;
  opt.specials = {"<|endoftext|>"};
  Tokenizer tok = train_tokenizer_from_texts(test_data::tiny_documents(30, 1), opt);
  ResponseRenderer rr(tok);
  EXPECT_FALSE(rr.chat());
  EXPECT_STREQ(rr.mode(), "raw");
  EXPECT_EQ(rr.end_id(), tok.eot_id());
  EXPECT_EQ(rr.prompt_ids("the cat"), tok.encode("the cat"));
  // An empty prompt starts from <|endoftext|>, so the first answer token has a predictor.
  EXPECT_EQ(rr.prompt_ids(""), std::vector<int32_t>{tok.eot_id()});
  std::vector<int32_t> a = rr.response_ids(" sees a dog");
  EXPECT_EQ(a.back(), tok.eot_id());
  EXPECT_EQ(std::vector<int32_t>(a.begin(), a.end() - 1), tok.encode(" sees a dog"));
}

TEST(ResponseRenderer, ChatModeUsesChatML) {
  Tokenizer tok = rlhf_test::world_tokenizer();
  ResponseRenderer rr(tok);
  ASSERT_TRUE(rr.chat());
  EXPECT_EQ(tok.decode(rr.prompt_ids("hi")),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(rr.response_ids("ok").back(), *tok.special_id("<|im_end|>"));
  // The reply's ids are the ones instruct trained: ChatML's space before the reply, then it.
  const std::vector<int32_t> a = rr.response_ids("sees a dog");
  EXPECT_EQ(std::vector<int32_t>(a.begin(), a.end() - 1), tok.encode(" sees a dog"));
  std::vector<int32_t> trained =
      render_chat(tok, {{"user", "hi"}, {"assistant", "sees a dog"}}, false).ids;
  std::vector<int32_t> row = rr.prompt_ids("hi");
  row.insert(row.end(), a.begin(), a.end());
  trained.pop_back();  // the "\n" after <|im_end|>
  EXPECT_EQ(row, trained);
}

// Answers a ranker tied ("ties", as `label export` and `demo rank` write) carry no order among
// themselves: only the first of a tie group is trained on, a ranking that is all ties is skipped,
// and malformed ties name the line and field.
TEST(EncodeRankings, TiedAnswersAreSetAside) {
  const fs::path dir = test_data::temp_dir("ties");
  fs::create_directories(dir);
  const fs::path f = dir / "r.jsonl";
  {
    std::ofstream o(f);
    o << R"({"prompt": "p1", "responses": ["a", "b", "c", "d"], "ties": [[1, 2]]})"
      << "\n"
      << R"({"prompt": "p2", "responses": ["x", "y"], "ties": [[0, 1]]})"
      << "\n"
      << R"({"prompt": "p3", "responses": ["u", "v"]})"
      << "\n";
  }
  Tokenizer tok = rlhf_test::world_tokenizer();
  ResponseRenderer rr(tok);
  std::vector<EncodedRanking> rs = encode_rankings(f, read_rankings_jsonl(f), rr, 64);
  ASSERT_EQ(rs.size(), 2u);  // p2 was all ties
  ASSERT_EQ(rs[0].rows(), 3u);
  EXPECT_EQ(rs[0].responses[1], rr.response_ids("b"));
  EXPECT_EQ(rs[0].responses[2], rr.response_ids("d"));
  EXPECT_EQ(rs[1].rows(), 2u);
  {
    std::ofstream o(f);
    o << R"({"prompt": "p", "responses": ["a", "b", "c"], "ties": [[0, 2]]})"
      << "\n";
  }
  try {
    read_rankings_jsonl(f);
    ADD_FAILURE() << "non-consecutive tie accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ties"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lmforge
