// `lmforge pretrain` as a user runs it: --help, a full run, Ctrl-C (a real SIGINT) + --resume
// reproducing the uninterrupted run byte for byte, and every bad input → exit 2, one error line
// naming the thing, and no output directory left behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "lmforge/core/file_util.h"
#include "lmforge/data/shard.h"
#include "lmforge/model/transformer.h"
#include "support/cli_run.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {

fs::path g_root, g_data;

CliRun run(const std::string& args) {
  return run_lmforge(g_root, args);
}

std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
}

const std::string kTiny =
    " --n-layer 2 --n-head 2 --n-embd 32 --n-ctx 32 --batch-size 4 --lr 3e-3 --warmup-steps 4"
    " --peak-gflops 100 --threads 1 --eval-tokens 256";

std::string tiny(const fs::path& out, int steps) {
  return "pretrain --data " + g_data.string() + " --output " + out.string() + kTiny +
         " --max-steps " + std::to_string(steps);
}

// Exit 2, the error (last stderr line) mentions every `needles`, and `out` was not created.
void expect_bad(const std::string& args, std::vector<std::string> needles, const fs::path& out) {
  CliRun r = run(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  const std::string& err = r.err;
  for (const auto& n : needles) EXPECT_NE(err.find(n), std::string::npos) << n << " in:\n" << err;
  EXPECT_FALSE(fs::exists(out)) << "partial output left for: " << args;
}

std::vector<std::string> metric_lines(const fs::path& run_dir, bool drop_timing) {
  std::istringstream in(read_file(run_dir / "metrics.jsonl"));
  std::vector<std::string> rows;
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (drop_timing)
      for (const char* k : {"tokens_per_s", "mfu", "elapsed_s"}) j.erase(k);
    rows.push_back(j.dump());
  }
  return rows;
}

}  // namespace

TEST(PretrainCli, HelpListsOptionsWithDefaults) {
  CliRun r = run("pretrain --help");
  EXPECT_EQ(r.code, 0);
  for (const char* opt :
       {"--data",      "--output",     "--init",       "--arch",         "--preset",
        "--n-kv-head", "--seq-len",    "--grad-accum", "--min-lr",       "--warmup-steps",
        "--grad-clip", "--max-tokens", "--eval-every", "--eval-tokens",  "--save-every",
        "--seed",      "--threads",    "--resume",     "--sample-every", "--config",
        "1337"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

TEST(PretrainCli, RunWritesLayoutAndSample) {
  fs::path out = g_root / "run-cli";
  CliRun r = run(tiny(out, 12) + " --sample-every 12 --eval-every 6");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resolved configuration"), std::string::npos);
  EXPECT_NE(r.err.find("sample @ step 12"), std::string::npos) << r.err;
  EXPECT_EQ(metric_lines(out, false).size(), 12u);
  std::string cfg = read_file(out / "config.yaml");
  EXPECT_NE(cfg.find("max-steps: 12"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("GFLOP/s"), std::string::npos) << cfg;
  EXPECT_TRUE(fs::exists(out / "final" / "model.safetensors"));
  // The same output again without --resume is refused.
  CliRun r3 = run(tiny(out, 12));
  EXPECT_EQ(r3.code, 2);
  EXPECT_NE(last_line(r3.err).find("--resume"), std::string::npos) << r3.err;
}

// --precision on the command line is the precision the run uses, whatever LMFORGE_PRECISION says
// (it used to end as the environment's value, or "auto", because the --precision options of the
// other commands were applied after pretrain's); without the flag, LMFORGE_PRECISION decides.
TEST(PretrainCli, PrecisionFlagWinsOverEnvironment) {
  struct Case {
    const char *env, *flag, *want;
  };
  for (Case c : {Case{"bf16", " --precision fp32", "precision: fp32"},
                 Case{"fp32", " --precision bf16", "precision: bf16"},
                 Case{nullptr, " --precision fp32", "precision: fp32"},
                 Case{"fp32", "", "precision: fp32"}}) {
    SCOPED_TRACE(std::string("LMFORGE_PRECISION=") + (c.env ? c.env : "(unset)") + c.flag);
    fs::path out = g_root / "run-precision";
    fs::remove_all(out);
    if (c.env)
      setenv("LMFORGE_PRECISION", c.env, 1);
    else
      unsetenv("LMFORGE_PRECISION");
    CliRun r = run(tiny(out, 1) + c.flag);
    unsetenv("LMFORGE_PRECISION");
    ASSERT_EQ(r.code, 0) << r.err;
    const size_t at = r.err.find("pretrain: cpu: ");  // the backend summary line
    ASSERT_NE(at, std::string::npos) << r.err;
    const std::string summary = r.err.substr(at, r.err.find('\n', at) - at);
    EXPECT_NE(summary.find(c.want), std::string::npos) << summary;
  }
}

// A fresh Qwen3 (q/k norms) trains from the CLI: its loss falls, final/ is a Qwen3ForCausalLM
// checkpoint with the per-head norm weights.
TEST(PretrainCli, Qwen3Trains) {
  fs::path out = g_root / "qwen3";
  CliRun r = run(tiny(out, 30) + " --arch qwen3");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> rows = metric_lines(out, true);
  ASSERT_EQ(rows.size(), 30u);
  const double first = nlohmann::json::parse(rows.front())["loss"].get<double>();
  const double last = nlohmann::json::parse(rows.back())["loss"].get<double>();
  EXPECT_LT(last, first - 0.5) << "loss " << first << " -> " << last;
  auto cfg = nlohmann::json::parse(read_file(out / "final" / "config.json"));
  EXPECT_EQ(cfg["model_type"], "qwen3");
  EXPECT_EQ(cfg["head_dim"], 16);  // --n-embd 32 --n-head 2
  EXPECT_NE(read_file(out / "final" / "model.safetensors").find("self_attn.q_norm.weight"),
            std::string::npos);
}

// Keys of --config are the long option names; flags override them; unknown or ill-typed keys are
// usage errors; RUN/config.yaml can be fed back as --config.
TEST(PretrainCli, ConfigFileKeys) {
  SCOPED_TRACE(
      "if the config file is silently ignored: CLI11 2.1.2 only reads the root app's config "
      "file (App::_process), never a subcommand's; src/cli/command.cpp must route --config "
      "through the root app");
  fs::path out = g_root / "bad-cfg-out";
  std::string data = " --data " + g_data.string();
  std::string base = " --output " + out.string() + kTiny + " --max-steps 2";
  write_file_atomic(g_root / "bad.yaml", "batch_size: 4\nlearning-rate: 0.1\n");
  expect_bad("pretrain --config " + (g_root / "bad.yaml").string() + data + base, {"learning-rate"},
             out);
  write_file_atomic(g_root / "bad2.yaml", "grad-accum: lots\n");
  expect_bad("pretrain --config " + (g_root / "bad2.yaml").string() + data + base, {"grad-accum"},
             out);
  fs::path first = g_root / "cfg-first", again = g_root / "cfg-again";
  write_file_atomic(g_root / "good.yaml", "max_steps: 3\nbatch-size: 2\n");
  CliRun r1 = run("pretrain --config " + (g_root / "good.yaml").string() + data + " --output " +
                  first.string() + kTiny);
  ASSERT_EQ(r1.code, 0) << r1.err;
  std::string cfg = read_file(first / "config.yaml");
  EXPECT_NE(cfg.find("max-steps: 3"), std::string::npos) << cfg;   // from the file
  EXPECT_NE(cfg.find("batch-size: 4"), std::string::npos) << cfg;  // the flag wins
  CliRun r2 =
      run("pretrain --config " + (first / "config.yaml").string() + " --output " + again.string());
  EXPECT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(metric_lines(first, true), metric_lines(again, true));
}

TEST(PretrainCli, SigintSavesAndResumeIsBitwiseIdentical) {
  const int steps = 150;
  fs::path full = g_root / "sig-full", part = g_root / "sig-part";
  ASSERT_EQ(run(tiny(full, steps)).code, 0);
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = std::string(LMFORGE_BINARY) + " " + tiny(part, steps) + " 2>/dev/null";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until training is under way, then press Ctrl-C.
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30)) {
    if (fs::exists(part / "metrics.jsonl") && fs::file_size(part / "metrics.jsonl") > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGINT);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  size_t done = metric_lines(part, true).size();
  ASSERT_LT(done, static_cast<size_t>(steps)) << "the run finished before the signal";
  EXPECT_FALSE(fs::exists(part / "final"));
  EXPECT_TRUE(fs::exists(part / "checkpoints" / ("step-" + std::to_string(done))));
  CliRun r = run(tiny(part, steps) + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming from"), std::string::npos);
  EXPECT_EQ(metric_lines(full, true), metric_lines(part, true));
  EXPECT_EQ(read_file(full / "final" / "model.safetensors"),
            read_file(part / "final" / "model.safetensors"));
}

TEST(PretrainCli, BadInputExitsTwoWithoutOutput) {
  fs::path out = g_root / "bad-out";
  std::string base = " --output " + out.string() + kTiny + " --max-steps 2";
  // Missing data directory.
  expect_bad("pretrain --data " + (g_root / "nope").string() + base, {"manifest.json"}, out);
  // Corrupt shards: wrong magic, truncated.
  fs::path bad = g_root / "bad-data";
  fs::copy(g_data, bad, fs::copy_options::recursive);
  {
    std::fstream f(bad / "train-00000.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.write("XXXXXXXX", 8);
  }
  expect_bad("pretrain --data " + bad.string() + base, {"train-00000.bin", "magic"}, out);
  fs::copy_file(g_data / "train-00000.bin", bad / "train-00000.bin",
                fs::copy_options::overwrite_existing);
  fs::resize_file(bad / "train-00000.bin", fs::file_size(bad / "train-00000.bin") - 7);
  expect_bad("pretrain --data " + bad.string() + base, {"train-00000.bin"}, out);
  std::string data = " --data " + g_data.string();
  // Unknown and ill-typed options, on the command line and in --config.
  expect_bad("pretrain" + data + base + " --bogus 3", {"--bogus"}, out);
  expect_bad("pretrain" + data + base + " --batch-size many", {"--batch-size"}, out);
  expect_bad("pretrain" + data + base + " --arch bert", {"--arch"}, out);
  // --seq-len beyond the model's context.
  expect_bad("pretrain" + data + base + " --seq-len 64", {"--seq-len", "context"}, out);
  // Unwritable output (a path under a regular file).
  write_file_atomic(g_root / "a-file", "x");
  expect_bad("pretrain" + data + " --output " + (g_root / "a-file" / "run").string() + kTiny,
             {"a-file"}, g_root / "a-file" / "run");
  // --init with a model whose tokenizer differs from the data's.
  fs::path other = g_root / "other-model";
  fs::create_directories(other);
  auto docs = test_data::tiny_documents(50, 9);
  Tokenizer tok = test_data::tiny_tokenizer(docs, 290);
  tok.save(other);
  ModelConfig mc = ModelConfig::preset("tiny", 300);
  mc.n_layer = 1;
  mc.n_embd = 32;
  mc.n_head = mc.n_kv_head = 2;
  mc.head_dim = 16;
  mc.ffn_hidden = 128;
  mc.n_ctx = 32;
  Transformer(mc).save(other);
  expect_bad("pretrain" + data + " --output " + out.string() + " --init " + other.string() +
                 " --max-steps 2 --peak-gflops 100",
             {"tokenizer", "lmforge prepare"}, out);
  // ... and architecture overrides with --init are refused.
  expect_bad("pretrain" + data + " --output " + out.string() + " --init " + other.string() +
                 " --n-layer 3",
             {"--init"}, out);
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  g_root = test_data::temp_dir("pretrain-cli");
  g_data = g_root / "data";
  auto docs = test_data::tiny_documents(400, 1);
  test_data::write_tiny_data(g_data, test_data::tiny_tokenizer(docs, 300), docs);
  int rc = RUN_ALL_TESTS();
  fs::remove_all(g_root);
  return rc;
}
