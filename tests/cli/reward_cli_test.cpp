// `lmforge reward` and `lmforge reward score` through the binary: a short training run writes
// summary.json and a reward model directory, score prints one line per input example for both
// input kinds, bad input exits 2 naming file:line and field with nothing written.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli_run.h"
#include "support/reward_fixture.h"

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

TEST(RewardCli, TrainThenScore) {
  fs::path dir = lmforge::test_data::temp_dir("reward-cli");
  fs::path model = lmforge::rlhf_test::write_tiny_model(dir / "base", 3);
  fs::path data = lmforge::rlhf_test::write_rankings(dir / "rankings.jsonl", 40, 5);
  const std::string common = " --threads 1 --max-steps 4 --lr 1e-3";
  CliRun r = run_lmforge(dir, "reward --init " + model.string() + " --data " + data.string() +
                                  " --output " + (dir / "rm").string() + common);
  ASSERT_EQ(r.code, 0) << r.err;
  json s = json::parse(lmforge::read_file(dir / "rm" / "summary.json"));
  EXPECT_EQ(s["stage"], "reward");
  EXPECT_EQ(s["steps"], 4);
  EXPECT_TRUE(s["reward_accuracy"].is_number());
  EXPECT_TRUE(fs::exists(dir / "rm" / "final" / "score_head.safetensors"));
  EXPECT_NE(lmforge::read_file(dir / "rm" / "config.yaml").find("loss: listwise"),
            std::string::npos);

  r = run_lmforge(
      dir, "reward score --model " + (dir / "rm" / "final").string() + " --data " + data.string());
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    json j = json::parse(line);
    EXPECT_GE(j["scores"].size(), 2u);
    EXPECT_EQ(j["line"], n + 1);
  }
  EXPECT_EQ(n, 40);
  EXPECT_NE(r.err.find("pair accuracy"), std::string::npos);

  fs::path pc = dir / "pc.jsonl";
  std::ofstream(pc) << R"({"prompt": "say something about cats", "completion": "please"})"
                       "\n"
                    << R"({"prompt": "say something about dogs", "completion": "a dog"})"
                       "\n";
  r = run_lmforge(dir, "reward score --model " + (dir / "rm" / "final").string() + " --data " +
                           pc.string() + " --output " + (dir / "scores.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.err;
  std::string out = lmforge::read_file(dir / "scores.jsonl");
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  EXPECT_TRUE(json::parse(out.substr(0, out.find('\n')))["score"].is_number());

  // Bad input: a duplicate answer on line 2; exit 2, message names file:line and field.
  fs::path bad = dir / "bad.jsonl";
  std::ofstream(bad) << R"({"prompt": "p", "chosen": "a", "rejected": "b"})"
                        "\n"
                     << R"({"prompt": "p", "responses": ["same", "other", "same"]})"
                        "\n";
  r = run_lmforge(dir, "reward --init " + model.string() + " --data " + bad.string() +
                           " --output " + (dir / "rm-bad").string() + common);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(bad.string() + ":2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("responses[2]"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "rm-bad"));
  // Not a reward model.
  r = run_lmforge(dir, "reward score --model " + model.string() + " --data " + data.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("reward_config.json"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

}  // namespace
