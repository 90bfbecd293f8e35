// Unchecked inputs (issue 13, items 13-17 and 20) as a user meets them through the binary: every
// case exits 2 with an error naming the option, file or field, and creates nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/core/file_util.h"
#include "lmforge/model/transformer.h"
#include "support/cli_run.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {

fs::path g_root, g_data, g_model;

CliRun run(const std::string& args) {
  return run_lmforge(g_root, args);
}

const std::string kTiny =
    " --n-layer 1 --n-head 2 --n-embd 32 --n-ctx 32 --batch-size 4 --peak-gflops 100 --threads 1"
    " --eval-tokens 256";

// Exit 2, stderr mentions every needle, and `out` was not created.
void expect_refused(const std::string& args, const std::vector<std::string>& needles,
                    const fs::path& out = {}) {
  CliRun r = run(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  for (const auto& n : needles)
    EXPECT_NE(r.err.find(n), std::string::npos) << n << " in:\n" << r.err;
  if (!out.empty()) {
    EXPECT_FALSE(fs::exists(out)) << "output left behind by: " << args;
  }
}

std::string pretrain(const fs::path& data, const fs::path& out) {
  return "pretrain --data " + data.string() + " --output " + out.string() + kTiny;
}

}  // namespace

// Item 16: --max-steps -5 ran a whole epoch, a 20-digit --max-steps was clamped and ran forever,
// --threads -3 was accepted, --lr nan|inf started a run that died at step 2 leaving files.
TEST(InputsCli, NumericOptionsAreValidatedAtParseTime) {
  fs::path out = g_root / "num-out";
  for (const std::string bad :
       {" --max-steps -5", " --max-steps 99999999999999999999", " --threads -3", " --lr nan",
        " --lr inf", " --lr -1", " --beta2 1", " --batch-size 0", " --seed -1"}) {
    const std::string opt = bad.substr(1, bad.find(' ', 1) - 1);
    expect_refused(pretrain(g_data, out) + bad, {opt}, out);
  }
  // Stage commands share the table (checked before any file is read).
  expect_refused(
      "finetune --init nowhere --data nowhere.jsonl --output " + out.string() + " --threads -3",
      {"--threads"}, out);
  expect_refused("generate --model nowhere --temperature nan", {"--temperature"});
  // --config YAML values go through the same check, and the error names the file and line.
  write_file_atomic(g_root / "nan.yaml", "max_steps: 2\nlr: .nan\n");
  expect_refused(pretrain(g_data, out) + " --config " + (g_root / "nan.yaml").string(),
                 {"nan.yaml:2", "lr"}, out);
}

// Item 13: a data directory whose tokenizer.json is not the one the manifest names wrote a model
// with out-of-range ids.
TEST(InputsCli, PretrainRefusesADataTokenizerThatIsNotTheManifests) {
  fs::path bad = g_root / "tok-mismatch", out = g_root / "tok-mismatch-out";
  fs::copy(g_data, bad, fs::copy_options::recursive);
  test_data::tiny_tokenizer(test_data::tiny_documents(60, 5), 280).save(bad);
  expect_refused(pretrain(bad, out) + " --max-steps 1", {"tokenizer.json", "manifest.json"}, out);
}

// Item 14: sizes that cannot fit are refused from an estimate before anything is allocated or
// written (they grew without limit or ended in std::bad_alloc with config.yaml left behind).
TEST(InputsCli, ModelsTooLargeForTheMachineAreRefusedFirst) {
  fs::path out = g_root / "mem-out";
  std::string base = "pretrain --data " + g_data.string() + " --output " + out.string() +
                     " --threads 1 --max-steps 1 --peak-gflops 100";
  expect_refused(base + " --n-layer 100000", {"needs about", "/proc/meminfo"}, out);
  expect_refused(base + " --n-embd 1048576 --n-head 2", {"needs about", "parameters"}, out);
  expect_refused(base + " --batch-size 1000000", {"needs about", "activations"}, out);
}

// Item 15: NaN weights loaded silently (`eval` printed "loss": null and exited 0).
TEST(InputsCli, NonFiniteWeightsAreRefusedAtLoad) {
  fs::path m = g_root / "nan-model";
  fs::copy(g_model, m, fs::copy_options::recursive);
  Transformer t = Transformer::load(g_model);
  t.params().get("transformer.h.0.ln_2.weight")[1] = NAN;
  t.save(m);
  expect_refused("eval --model " + m.string() + " --data " + g_data.string() + " --json",
                 {"model.safetensors", "transformer.h.0.ln_2.weight", "nan"});
}

// Item 17: errors that exited 1 without naming the file and field.
TEST(InputsCli, BadFilesNameFileAndField) {
  // A split regex that does not compile.
  fs::path tok = g_root / "bad-regex";
  fs::create_directories(tok);
  auto j = nlohmann::json::parse(read_file(g_data / "tokenizer.json"));
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  write_file_atomic(tok / "tokenizer.json", j.dump());
  write_file_atomic(g_root / "hello.txt", "hello\n");
  expect_refused("tokenizer encode --tokenizer " + tok.string() + " --input " +
                     (g_root / "hello.txt").string(),
                 {"tokenizer.json", "pre_tokenizer.pretokenizers[0].pattern.Regex"});
  // A wrong JSON type in the pre-tokenizer and in config.json.
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\s+";
  j["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = "false";
  write_file_atomic(tok / "tokenizer.json", j.dump());
  expect_refused("tokenizer encode --tokenizer " + tok.string() + " --input " +
                     (g_root / "hello.txt").string(),
                 {"tokenizer.json", "pre_tokenizer.pretokenizers[1].use_regex"});
  fs::path m = g_root / "typed-model";
  fs::copy(g_model, m, fs::copy_options::recursive);
  auto c = nlohmann::json::parse(read_file(m / "config.json"));
  c["activation_function"] = 5;
  write_file_atomic(m / "config.json", c.dump());
  expect_refused("eval --model " + m.string() + " --data " + g_data.string(),
                 {"config.json", "activation_function"});
  // An id outside the vocabulary in a shard: the shard and the token index are named.
  fs::path bad = g_root / "oov-data", out = g_root / "oov-out";
  fs::copy(g_data, bad, fs::copy_options::recursive);
  {
    std::fstream f(bad / "train-00000.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(32 + 2 * 100);
    const unsigned char id[2] = {0x88, 0x13};  // 5000, little-endian
    f.write(reinterpret_cast<const char*>(id), 2);
  }
  expect_refused(pretrain(bad, out) + " --max-steps 1", {"train-00000.bin", "token 100", "5000"},
                 out);
}

// Item 20: tokenizer train took a shard and an empty corpus; decode added a newline.
TEST(InputsCli, TokenizerTrainAndDecode) {
  fs::path out = g_root / "tok-out";
  expect_refused("tokenizer train --vocab-size 300 --output " + out.string() + " --input " +
                     (g_data / "train-00000.bin").string(),
                 {"train-00000.bin"}, out);
  write_file_atomic(g_root / "empty.txt", "");
  expect_refused("tokenizer train --vocab-size 300 --output " + out.string() + " --input " +
                     (g_root / "empty.txt").string(),
                 {"empty.txt", "no text"}, out);
  write_file_atomic(g_root / "ids.txt", "72 101");  // no final newline
  CliRun r = run("tokenizer decode --tokenizer " + g_data.string() + " --input " +
                 (g_root / "ids.txt").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_NE(r.out.back(), '\n') << "decode added a newline the input did not have";
  write_file_atomic(g_root / "ids2.txt", "72 101\n\n72\n");
  r = run("tokenizer decode --tokenizer " + g_data.string() + " --input " +
          (g_root / "ids2.txt").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
}

// Item 20: --resume of a finished run printed "loss 0.0000".
TEST(InputsCli, ResumeOfAFinishedRunReportsItsFinalLoss) {
  fs::path out = g_root / "finished";
  const std::string args = pretrain(g_data, out) + " --max-steps 3";
  CliRun r1 = run(args);
  ASSERT_EQ(r1.code, 0) << r1.err;
  std::istringstream in(read_file(out / "metrics.jsonl"));
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  char want[64];
  std::snprintf(want, sizeof want, "loss %.4f", nlohmann::json::parse(last)["loss"].get<double>());
  CliRun r2 = run(args + " --resume");
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_NE(r2.err.find("already finished"), std::string::npos) << r2.err;
  EXPECT_NE(r2.err.find(want), std::string::npos) << want << " in:\n" << r2.err;
  EXPECT_EQ(r2.err.find("loss 0.0000"), std::string::npos) << r2.err;
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  g_root = test_data::temp_dir("inputs-cli");
  g_data = g_root / "data";
  auto docs = test_data::tiny_documents(300, 1);
  Tokenizer tok = test_data::tiny_tokenizer(docs, 300);
  DataManifest man = test_data::write_tiny_data(g_data, tok, docs);
  g_model = g_root / "model";
  fs::create_directories(g_model);
  ModelConfig mc = ModelConfig::preset("tiny", man.vocab_size);
  mc.n_layer = 1;
  mc.n_embd = 32;
  mc.n_head = mc.n_kv_head = 2;
  mc.head_dim = 16;
  mc.ffn_hidden = 128;
  mc.n_ctx = 32;
  Transformer t(mc);
  t.init_weights(3);
  t.save(g_model);
  tok.save(g_model);
  int rc = RUN_ALL_TESTS();
  fs::remove_all(g_root);
  return rc;
}
