// `demo rank`'s sampling (demo/rank.h): a prompt whose samples are all the same is sampled again
// at a higher temperature, so a model sure of its answers still yields rankings; without that
// resampling the same model yields none.
#include "lmforge/demo/rank.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "lmforge/core/error.h"
#include "support/tiny_model.h"
#include "support/tmp_files.h"

using namespace lmforge;

TEST(DemoRank, ResamplesPromptsWhoseSamplesAreAllTheSame) {
  std::string lines;
  for (const char* p : {"the cat", "a dog", "one bird", "the sun", "my book", "a tree"})
    lines += nlohmann::json{{"prompt", p}, {"reference", "x"}}.dump() + "\n";
  RankOptions o;
  o.model = test::tiny_llama_dir(5, "rank");
  o.prompts = write_tmp("prompts.jsonl", lines);
  o.output = tmp_dir() / "rankings.jsonl";
  o.chat = false;
  o.samples = 3;
  o.max_tokens = 4;
  // At a temperature this low every sample is the greedy answer: nothing to rank.
  o.temperature = 1e-4f;
  o.max_temperature = o.temperature;
  EXPECT_THROW(rank_sampled_answers(o), RuntimeError);
  EXPECT_FALSE(std::filesystem::exists(o.output));
  // Resampling raises the temperature (x1.5 a round) for those prompts until they differ.
  o.max_temperature = 3.0f;
  const RankSummary s = rank_sampled_answers(o);
  EXPECT_EQ(s.prompts, 6);
  EXPECT_EQ(s.resampled, 6);
  EXPECT_GE(s.ranked, 5);
  EXPECT_EQ(s.ranked + s.skipped_identical, 6);
  std::ifstream in(o.output);
  int n = 0;
  for (std::string line; std::getline(in, line); ++n)
    EXPECT_GE(nlohmann::json::parse(line)["responses"].size(), 2u) << line;
  EXPECT_EQ(n, s.ranked);
}
