// End to end through the library: a tiny model's loss falls on a tiny corpus; a run stopped at
// step 10 and resumed is bitwise identical to an uninterrupted one; a non-finite loss stops the
// run and keeps the last good checkpoint; checkpoint discovery ignores incomplete directories;
// mfu divides by the machine's peak for the precision in use (or --peak-gflops).
#include "lmforge/train/pretrain.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/interrupt.h"
#include "lmforge/train/checkpoint.h"
#include "support/tiny_corpus.h"
#include "train/fake_peak.h"

namespace fs = std::filesystem;
using namespace lmforge;
using nlohmann::json;

namespace {

struct Data {
  fs::path root, dir;
  Data() {
    root = test_data::temp_dir("pretrain");
    dir = root / "data";
    auto docs = test_data::tiny_documents(400, 1);
    test_data::write_tiny_data(dir, test_data::tiny_tokenizer(docs, 300), docs);
  }
  ~Data() { fs::remove_all(root); }
};
Data* g_data = nullptr;

PretrainOptions tiny(const fs::path& out, int64_t steps) {
  PretrainOptions o;
  o.data_dir = g_data->dir;
  o.output_dir = out;
  o.n_layer = 2;
  o.n_head = 2;
  o.n_embd = 32;
  o.n_ctx = 32;
  o.batch_size = 4;
  o.lr = 3e-3;
  o.warmup_steps = 4;
  o.max_steps = steps;
  o.eval_every = 10;
  o.eval_tokens = 512;
  o.save_every = 5;
  o.peak_gflops = 100;  // skip the measurement
  o.threads = 1;        // OpenMP spinning on a shared 2-core CI machine costs more than it gives
  return o;
}

}  // namespace

TEST(Pretrain, LossFallsAndWritesRunLayout) {
  fs::path out = g_data->root / "run-falls";
  auto r = run_pretrain(tiny(out, 40));
  EXPECT_FALSE(r.train.interrupted);
  auto rows = test_data::read_metrics(out);
  ASSERT_EQ(rows.size(), 40u);
  double first = rows[0]["loss"], last = rows.back()["loss"];
  EXPECT_NEAR(first, std::log(300.0), 0.3);  // near uniform at init
  EXPECT_LT(last, first - 1.5) << "loss did not fall: " << first << " -> " << last;
  EXPECT_TRUE(rows[9].contains("val_loss"));
  EXPECT_FALSE(rows[8].contains("val_loss"));
  EXPECT_LT(rows.back()["val_loss"].get<double>(), first - 1.5);
  for (const char* k : {"step", "loss", "lr", "grad_norm", "tokens_per_s", "mfu", "elapsed_s"})
    EXPECT_TRUE(rows[0].contains(k)) << k;
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json",
                        "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(out / "final" / f)) << f;
  EXPECT_TRUE(fs::exists(out / "config.yaml"));
  // keep_checkpoints = 2: only the newest two remain.
  auto cks = list_checkpoints(out);
  ASSERT_EQ(cks.size(), 2u);
  EXPECT_EQ(cks.back().filename(), "step-40");
  EXPECT_TRUE(fs::exists(cks.back() / "optimizer.safetensors"));
  // The same directory again without --resume is refused before anything is touched.
  EXPECT_THROW(run_pretrain(tiny(out, 40)), UsageError);
}

TEST(Pretrain, MfuDividesByTheMachinePeak) {
  using lmforge::backend::Precision;
  test_peak::FakePeak peak(g_data->root / "cache", 1, {{Precision::fp32, 0.5}});
  fs::path out = g_data->root / "run-mfu";
  PretrainOptions o = tiny(out, 3);
  o.peak_gflops = 0;  // the (fake) machine peak
  auto r = run_pretrain(o);
  EXPECT_DOUBLE_EQ(r.peak_gflops, 0.5);
  EXPECT_NE(read_file(out / "config.yaml").find("mfu against the fp32 peak 0.5 GFLOP/s"),
            std::string::npos)
      << read_file(out / "config.yaml");
  ModelConfig mc = r.model;
  const double fpt = Transformer(mc).flops_per_token(32);
  for (const json& row : test_data::read_metrics(out))
    EXPECT_NEAR(row["mfu"].get<double>(), row["tokens_per_s"].get<double>() * fpt / 0.5e9,
                1e-3 * row["mfu"].get<double>());
  // --peak-gflops wins over the machine peak.
  fs::path given = g_data->root / "run-mfu-given";
  o = tiny(given, 1);
  EXPECT_DOUBLE_EQ(run_pretrain(o).peak_gflops, 100);
  EXPECT_NE(read_file(given / "config.yaml").find("given peak 100.0 GFLOP/s"), std::string::npos);
}

TEST(Pretrain, StopAndResumeIsBitwiseIdentical) {
  fs::path full = g_data->root / "run-full", split = g_data->root / "run-split";
  run_pretrain(tiny(full, 20));
  TrainHooks stop_at_10;
  stop_at_10.on_step = [](const StepMetrics& m) {
    if (m.step == 10) request_interrupt();  // exactly what Ctrl-C does
  };
  PretrainOptions o = tiny(split, 20);
  o.save_every = 7;  // the stop itself must save (10 is not a multiple of 7)
  auto first = run_pretrain(o, stop_at_10);
  EXPECT_TRUE(first.train.interrupted);
  EXPECT_EQ(first.train.steps_done, 10);
  EXPECT_FALSE(fs::exists(split / "final"));
  EXPECT_EQ(find_latest_checkpoint(split)->filename(), "step-10");
  o.resume = true;
  auto second = run_pretrain(o);
  EXPECT_FALSE(second.train.interrupted);
  auto a = test_data::read_metrics(full), b = test_data::read_metrics(split);
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(b.size(), 20u);
  for (size_t i = 0; i < a.size(); ++i)
    for (const char* k : {"step", "loss", "lr", "grad_norm", "val_loss"}) {
      ASSERT_EQ(a[i].contains(k), b[i].contains(k)) << k << " at row " << i;
      if (a[i].contains(k)) {
        EXPECT_EQ(a[i][k], b[i][k]) << k << " at step " << i + 1;
      }
    }
  EXPECT_EQ(read_file(full / "final" / "model.safetensors"),
            read_file(split / "final" / "model.safetensors"));
  // A resume with different settings is refused and names the setting.
  o.lr = 1e-3;
  try {
    run_pretrain(o);
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'lr'"), std::string::npos) << e.what();
  }
}

TEST(Pretrain, NonFiniteLossStopsAndKeepsLastGoodCheckpoint) {
  fs::path out = g_data->root / "run-nan";
  PretrainOptions o = tiny(out, 20);
  o.save_every = 1;
  o.lr = 1e9;  // the first update throws the weights to ~1e9: the next loss overflows
  o.warmup_steps = 0;
  o.grad_clip = 0;
  try {
    run_pretrain(o);
    FAIL() << "expected a RuntimeError";
  } catch (const RuntimeError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
    auto last = find_latest_checkpoint(out);
    ASSERT_TRUE(last.has_value());
    EXPECT_NE(msg.find(last->string()), std::string::npos) << msg;
    auto state = read_trainer_state(*last);
    EXPECT_GT(state.step, 0);
  }
  EXPECT_FALSE(fs::exists(out / "final"));
}

TEST(Checkpoint, IncompleteDirectoriesAreIgnoredAndPruned) {
  fs::path run = g_data->root / "run-ck";
  // step-3: the files of a checkpoint without a "files" list (an older lmforge) and a damaged
  // state: listed, and reading it says so.
  for (const char* f : {"config.json", "model.safetensors", "optimizer.safetensors"})
    write_file_atomic(run / "checkpoints" / "step-3" / f, "");
  write_file_atomic(run / "checkpoints" / "step-3" / "trainer_state.json", "{}");
  fs::create_directories(run / "checkpoints" / "step-9.tmp-123");  // killed mid-save
  write_file_atomic(run / "checkpoints" / "step-9.tmp-123" / "trainer_state.json", "{}");
  fs::create_directories(run / "checkpoints" / "step-7");  // no state file: incomplete
  // step-8: a deletion cut short (issue 13): the state survived, a listed file did not.
  write_file_atomic(run / "checkpoints" / "step-8" / "trainer_state.json",
                    "{\"files\": [\"model.safetensors\", \"trainer_state.json\"]}");
  fs::create_directories(run / "checkpoints" / "step-1.trash-55");  // a prune killed mid-delete
  EXPECT_EQ(find_latest_checkpoint(run)->filename(), "step-3");
  EXPECT_EQ(list_checkpoints(run).size(), 1u);
  prune_checkpoints(run, 1);
  EXPECT_FALSE(fs::exists(run / "checkpoints" / "step-9.tmp-123"));
  EXPECT_FALSE(fs::exists(run / "checkpoints" / "step-8"));
  EXPECT_FALSE(fs::exists(run / "checkpoints" / "step-7"));
  EXPECT_FALSE(fs::exists(run / "checkpoints" / "step-1.trash-55"));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "step-3"));
  EXPECT_THROW(read_trainer_state(run / "checkpoints" / "step-3"), InputError);
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  Data d;
  g_data = &d;
  return RUN_ALL_TESTS();
}
