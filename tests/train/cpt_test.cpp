// Continued pretraining with replay through the library: a run stopped at step 8 and resumed
// repeats the uninterrupted one bit for bit (the replay mix depends only on the row count), every
// evaluation carries domain and general validation loss, and the step-0 values survive the resume
// (start.json -> summary.json).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/interrupt.h"
#include "lmforge/train/pretrain.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using namespace lmforge;
using nlohmann::json;

namespace {}  // namespace

TEST(Cpt, ReplayResumeIsBitwiseIdentical) {
  fs::path root = test_data::temp_dir("cpt");
  auto general = test_data::tiny_documents(200, 1), domain = test_data::tiny_documents(200, 2);
  std::vector<std::string> all = general;
  all.insert(all.end(), domain.begin(), domain.end());
  Tokenizer tok = test_data::tiny_tokenizer(all, 300);
  test_data::write_tiny_data(root / "general", tok, general);
  test_data::write_tiny_data(root / "domain", tok, domain);
  // The base model: a few steps on the general data.
  PretrainOptions b;
  b.data_dir = root / "general";
  b.output_dir = root / "base";
  b.n_layer = 1;
  b.n_head = 2;
  b.n_embd = 32;
  b.n_ctx = 32;
  b.batch_size = 4;
  b.max_steps = 5;
  b.peak_gflops = 100;
  b.threads = 1;
  run_pretrain(b);

  auto opts = [&](const fs::path& out) {
    PretrainOptions o;
    o.data_dir = root / "domain";
    o.output_dir = out;
    o.init_model = root / "base" / "final";
    o.replay_dir = root / "general";
    o.replay_ratio = 0.3;
    o.batch_size = 4;
    o.max_steps = 16;
    o.eval_every = 4;
    o.eval_tokens = 256;
    o.save_every = 5;
    o.peak_gflops = 100;
    o.threads = 1;
    return o;
  };
  run_pretrain(opts(root / "full"));
  TrainHooks stop;
  stop.on_step = [](const StepMetrics& m) {
    if (m.step == 8) request_interrupt();
  };
  PretrainOptions o = opts(root / "split");
  auto first = run_pretrain(o, stop);
  ASSERT_TRUE(first.train.interrupted);
  o.resume = true;
  run_pretrain(o);

  auto a = test_data::read_metrics(root / "full"), c = test_data::read_metrics(root / "split");
  ASSERT_EQ(a.size(), 16u);
  ASSERT_EQ(c.size(), 16u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["loss"], c[i]["loss"]) << "step " << i + 1;
    EXPECT_EQ(a[i].contains("general_val_loss"), (i + 1) % 4 == 0);
    if (a[i].contains("general_val_loss")) {
      EXPECT_EQ(a[i]["general_val_loss"], c[i]["general_val_loss"]);
      EXPECT_EQ(a[i]["domain_val_loss"], a[i]["val_loss"]);
    }
  }
  EXPECT_EQ(read_file(root / "full" / "final" / "model.safetensors"),
            read_file(root / "split" / "final" / "model.safetensors"));
  json sa = json::parse(read_file(root / "full" / "summary.json"));
  json sc = json::parse(read_file(root / "split" / "summary.json"));
  EXPECT_EQ(sa["start"], sc["start"]);
  EXPECT_TRUE(sa["start"].contains("general_val_loss"));
  EXPECT_EQ(sa["general_val_loss"], sc["general_val_loss"]);
  EXPECT_EQ(sa["steps"], 16);
  // A resume with another replay ratio is refused.
  o.replay_ratio = 0.5;
  EXPECT_THROW(run_pretrain(o), UsageError);
  fs::remove_all(root);
}
