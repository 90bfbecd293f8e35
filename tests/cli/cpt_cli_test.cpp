// Continued pretraining as a user runs it: a base model pretrained on "general" text continues on
// a "domain" corpus with another vocabulary. Domain validation loss falls from its step-0 value;
// every evaluation (and step 0) reports domain and general validation loss; with --replay 0.25 the
// general loss ends lower than without replay (less forgetting); replay data from another
// tokenizer exits 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/core/file_util.h"
#include "lmforge/core/rng.h"
#include "support/cli_run.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path g_root;

CliRun run(const std::string& args) {
  return run_lmforge(g_root, args);
}

std::string domain_text(int n, uint64_t seed) {
  const char* s[] = {"the kernel", "a compiler", "the linker", "our scheduler", "the cache"};
  const char* v[] = {"emits", "inlines", "flushes", "reorders", "patches"};
  const char* o[] = {"the loop", "a register", "every branch", "the symbol", "some pages"};
  lmforge::Rng rng(seed);
  std::string out;
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k)
      out += std::string(s[rng.below(5)]) + " " + v[rng.below(5)] + " " + o[rng.below(5)] +
             (k < 3 ? ". " : ".\n\n");
  }
  return out;
}

std::string general_text(int n, uint64_t seed) {
  std::string out;
  for (const auto& d : lmforge::test_data::tiny_documents(n, seed)) out += d + "\n";
  return out;
}

const std::string kEval = " --threads 1 --peak-gflops 10 --batch-size 8 --eval-tokens 2048";

class CptCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_root = lmforge::test_data::temp_dir("cpt-cli");
    std::string t = g_root.string();
    lmforge::write_file_atomic(g_root / "general.txt", general_text(400, 1));
    lmforge::write_file_atomic(g_root / "domain.txt", domain_text(300, 2));
    ASSERT_EQ(run("tokenizer train --input " + t + "/general.txt " + t +
                  "/domain.txt --vocab-size 320 --output " + t + "/tok")
                  .code,
              0);
    for (const char* d : {"general", "domain"})
      ASSERT_EQ(run("prepare --tokenizer " + t + "/tok --input " + t + "/" + d + ".txt --output " +
                    t + "/" + d + " --val-fraction 0.1")
                    .code,
                0);
    CliRun r = run("pretrain --data " + t + "/general --output " + t +
                   "/base --n-layer 2 --n-head 2 --n-embd 64 --n-ctx 32 --max-steps 150 --lr 3e-3"
                   " --eval-every 0" +
                   kEval);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(g_root); }
  std::string p(const std::string& f) const { return (g_root / f).string(); }
  json summary(const std::string& run) const {
    return json::parse(lmforge::read_file(g_root / run / "summary.json"));
  }
};

}  // namespace

TEST_F(CptCli, LowersDomainLossAndReplayLimitsForgetting) {
  const std::string common = " --init " + p("base/final") + " --data " + p("domain") +
                             " --max-steps 80 --lr 3e-3 --warmup-steps 5 --eval-every 40" + kEval;
  CliRun a = run("pretrain --output " + p("cpt") + " --general-val " + p("general") + common);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_NE(a.err.find("start (step 0):"), std::string::npos) << a.err;
  CliRun b = run("pretrain --output " + p("cpt-replay") + " --replay " + p("general") +
                 " --replay-ratio 0.25" + common);
  ASSERT_EQ(b.code, 0) << b.err;

  json sa = summary("cpt"), sb = summary("cpt-replay");
  EXPECT_EQ(sa["stage"], "pretrain");
  // Both start from the same model and measure the same sets at step 0.
  EXPECT_NEAR(sa["start"]["general_val_loss"].get<double>(),
              sb["start"]["general_val_loss"].get<double>(), 1e-9);
  EXPECT_NEAR(sa["start"]["domain_val_loss"].get<double>(), sa["start"]["val_loss"].get<double>(),
              1e-12);
  // CPT lowers the domain loss.
  EXPECT_LT(sa["domain_val_loss"].get<double>(), sa["start"]["domain_val_loss"].get<double>() - 0.5)
      << sa.dump();
  // Without replay the general loss rises (forgetting); replay keeps it lower.
  EXPECT_GT(sa["general_val_loss"].get<double>(), sa["start"]["general_val_loss"].get<double>());
  EXPECT_LT(sb["general_val_loss"].get<double>(), sa["general_val_loss"].get<double>() - 0.05)
      << sa.dump() << "\n"
      << sb.dump();
  // Every evaluation row of metrics.jsonl has both losses.
  std::istringstream in(lmforge::read_file(g_root / "cpt-replay" / "metrics.jsonl"));
  std::string line;
  int evals = 0;
  while (std::getline(in, line)) {
    json m = json::parse(line);
    if (!m.contains("val_loss")) continue;
    ++evals;
    EXPECT_TRUE(m.contains("general_val_loss") && m.contains("domain_val_loss")) << line;
  }
  EXPECT_EQ(evals, 2);
}

TEST_F(CptCli, ReplayMustShareTheTokenizer) {
  std::string t = g_root.string();
  ASSERT_EQ(
      run("tokenizer train --input " + t + "/domain.txt --vocab-size 280 --output " + t + "/tok2")
          .code,
      0);
  ASSERT_EQ(run("prepare --tokenizer " + t + "/tok2 --input " + t + "/general.txt --output " + t +
                "/other")
                .code,
            0);
  CliRun r = run("pretrain --init " + p("base/final") + " --data " + p("domain") + " --output " +
                 p("bad") + " --replay " + p("other") + " --max-steps 2" + kEval);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("other/manifest.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tokenizer"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(g_root / "bad"));
}
