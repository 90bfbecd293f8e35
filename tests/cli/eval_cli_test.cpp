// `lmforge eval`: on a prepared data directory it reproduces the trainer's final val_loss; on a
// text file its token count and bits per byte follow from the text; a text shorter than the
// context is one sequence; bad input exits 2.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/core/file_util.h"
#include "support/cli_run.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using namespace lmforge;
using nlohmann::json;

namespace {

fs::path g_root, g_data, g_model;

CliRun run(const std::string& args) {
  return run_lmforge(g_root, args);
}

json eval_json(const std::string& args) {
  CliRun r = run("eval --model " + g_model.string() + " --json --threads 1 " + args);
  EXPECT_EQ(r.code, 0) << r.err;
  return json::parse(r.out);
}

}  // namespace

TEST(EvalCli, DataDirMatchesTrainerValLoss) {
  json j = eval_json("--data " + g_data.string() + " --batch-size 4");
  for (const char* k : {"loss", "perplexity", "bits_per_byte", "tokens"})
    ASSERT_TRUE(j.contains(k)) << k;
  auto man = read_manifest(g_data);
  EXPECT_EQ(j["tokens"].get<uint64_t>(), man.val_tokens - 1);
  // The trainer's last metrics line measured val_loss over the whole val split (eval-tokens 0)
  // with the same windows.
  std::istringstream in(read_file(g_model.parent_path() / "metrics.jsonl"));
  std::string line, last;
  while (std::getline(in, line)) last = line;
  double val_loss = json::parse(last)["val_loss"];
  EXPECT_NEAR(j["loss"].get<double>(), val_loss, 1e-4);
  EXPECT_NEAR(j["perplexity"].get<double>(), std::exp(j["loss"].get<double>()), 1e-9);
  double bpb = j["bits_per_byte"];
  EXPECT_TRUE(std::isfinite(bpb) && bpb > 0);
  // The train split is selectable and scores more tokens.
  json t = eval_json("--data " + g_data.string() + " --split train --max-tokens 300");
  EXPECT_GE(t["tokens"].get<int64_t>(), 300);
  EXPECT_LT(t["tokens"].get<int64_t>(), 300 + 32);
}

TEST(EvalCli, TextFileTokensAndBitsPerByte) {
  auto docs = test_data::tiny_documents(20, 77);
  std::string text;
  for (auto& d : docs) text += d;
  write_file_atomic(g_root / "held-out.txt", text);
  Tokenizer tok = Tokenizer::load(g_model);
  const int64_t n = static_cast<int64_t>(tok.encode(text).size());
  json j = eval_json("--data " + (g_root / "held-out.txt").string());
  // <|endoftext|> + text: every text token is a target once.
  EXPECT_EQ(j["tokens"].get<int64_t>(), n);
  double loss = j["loss"], bpb = j["bits_per_byte"];
  EXPECT_NEAR(bpb * std::log(2.0) * static_cast<double>(text.size()), loss * static_cast<double>(n),
              1e-6 * loss * n);
  // Shorter than the 32-token context: one sequence, all tokens scored.
  write_file_atomic(g_root / "short.txt", "the cat sees the moon.");
  json s = eval_json("--data " + (g_root / "short.txt").string());
  EXPECT_EQ(s["tokens"].get<int64_t>(),
            static_cast<int64_t>(tok.encode("the cat sees the moon.").size()));
  EXPECT_LT(s["loss"].get<double>(), std::log(300.0));  // the model learned something
  // Plain output for people.
  CliRun r = run("eval --model " + g_model.string() + " --data " + (g_root / "short.txt").string());
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("perplexity"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bits per byte"), std::string::npos) << r.out;
}

TEST(EvalCli, BadInputExitsTwo) {
  EXPECT_EQ(
      run("eval --model " + (g_root / "no-model").string() + " --data " + g_data.string()).code, 2);
  CliRun r = run("eval --model " + g_model.string() + " --data " + (g_root / "nope.txt").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nope.txt"), std::string::npos) << r.err;
  r = run("eval --model " + g_model.string() + " --data " + g_data.string() + " --seq-len 64");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--seq-len"), std::string::npos) << r.err;
  r = run("eval --model " + g_model.string() + " --data " + g_data.string() + " --split test");
  EXPECT_EQ(r.code, 2);
  // Data prepared with another tokenizer.
  auto docs = test_data::tiny_documents(60, 5);
  fs::path other = g_root / "other-data";
  test_data::write_tiny_data(other, test_data::tiny_tokenizer(docs, 280), docs);
  r = run("eval --model " + g_model.string() + " --data " + other.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("tokenizer"), std::string::npos) << r.err;
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  g_root = test_data::temp_dir("eval-cli");
  g_data = g_root / "data";
  auto docs = test_data::tiny_documents(400, 1);
  test_data::write_tiny_data(g_data, test_data::tiny_tokenizer(docs, 300), docs);
  CliRun r = run("pretrain --data " + g_data.string() + " --output " + (g_root / "run").string() +
                 " --n-layer 2 --n-head 2 --n-embd 32 --n-ctx 32 --batch-size 4 --lr 3e-3"
                 " --max-steps 30 --eval-tokens 0 --peak-gflops 100 --threads 1");
  if (r.code != 0) {
    std::fprintf(stderr, "setup pretrain failed:\n%s\n", r.err.c_str());
    return 1;
  }
  g_model = g_root / "run" / "final";
  int rc = RUN_ALL_TESTS();
  fs::remove_all(g_root);
  return rc;
}
