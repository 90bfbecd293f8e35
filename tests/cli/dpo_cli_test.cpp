// `lmforge dpo` through the binary: a short run writes summary.json with reward_accuracy, margin
// and kl, metrics.jsonl with the eval keys, the cached reference log-probs and final/; bad input
// exits 2 naming file:line and field with nothing written.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/cli_run.h"
#include "support/reward_fixture.h"

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

TEST(DpoCli, RunAndBadInput) {
  fs::path dir = lmforge::test_data::temp_dir("dpo-cli");
  fs::path model = lmforge::rlhf_test::write_tiny_model(dir / "base", 3);
  fs::path data = lmforge::rlhf_test::write_rankings(dir / "rankings.jsonl", 30, 5);
  const std::string common = " --threads 1 --max-steps 3 --lr 1e-3 --beta 0.2 --eval-every 3";
  CliRun r = run_lmforge(dir, "dpo --init " + model.string() + " --data " + data.string() +
                                  " --output " + (dir / "run").string() + common);
  ASSERT_EQ(r.code, 0) << r.err;
  json s = json::parse(lmforge::read_file(dir / "run" / "summary.json"));
  EXPECT_EQ(s["stage"], "dpo");
  EXPECT_EQ(s["steps"], 3);
  for (const char* k : {"reward_accuracy", "margin", "kl", "val_loss"})
    EXPECT_TRUE(s[k].is_number()) << k;
  EXPECT_TRUE(fs::exists(dir / "run" / "ref_logprobs.json"));
  EXPECT_TRUE(fs::exists(dir / "run" / "final" / "model.safetensors"));
  std::ifstream mf(dir / "run" / "metrics.jsonl");
  std::string line, last;
  while (std::getline(mf, line)) last = line;
  json lj = json::parse(last);
  for (const char* k : {"kl", "reward_accuracy", "margin", "train_accuracy", "val_loss"})
    EXPECT_TRUE(lj.contains(k)) << k;
  EXPECT_NE(r.err.find("KL to the reference"), std::string::npos);

  // A ranking with one answer: exit 2, file:line and field named, nothing written.
  fs::path bad = dir / "bad.jsonl";
  std::ofstream(bad) << R"({"prompt": "p", "chosen": "a", "rejected": "b"})"
                        "\n"
                     << R"({"prompt": "p", "responses": ["alone"]})"
                        "\n";
  r = run_lmforge(dir, "dpo --init " + model.string() + " --data " + bad.string() + " --output " +
                           (dir / "bad-run").string() + common);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(bad.string() + ":2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("responses"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "bad-run"));
  // Existing run without --resume: refused.
  r = run_lmforge(dir, "dpo --init " + model.string() + " --data " + data.string() + " --output " +
                           (dir / "run").string() + common);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

}  // namespace
