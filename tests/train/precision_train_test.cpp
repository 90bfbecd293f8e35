// bf16 mixed precision through the whole trainer (issue 15's proof, on any CPU: where the CPU has
// no bf16 instructions the bf16 GEMM is emulated with the same rounding, so these run everywhere):
// - 1,000 steps of a small pretraining in bf16 land within 1% of the fp32 run's final validation
//   loss (same seed, same data), and are not bit-identical to it (bf16 is really in effect);
// - a bf16 run stopped at step 10 and resumed is bit-identical to an uninterrupted bf16 run;
// - resuming a checkpoint with another precision is refused, naming the setting.
// The full "tiny" preset (V4096 T128 L4 C128 B16) over 1,000 steps is bench/precision_check.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/backend/isa.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/interrupt.h"
#include "lmforge/train/checkpoint.h"
#include "lmforge/train/pretrain.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using namespace lmforge;
using backend::Precision;
using backend::PrecisionScope;
using nlohmann::json;

namespace {

struct Data {
  fs::path root, dir;
  Data() {
    root = test_data::temp_dir("precision");
    dir = root / "data";
    auto docs = test_data::tiny_documents(600, 3);
    test_data::write_tiny_data(dir, test_data::tiny_tokenizer(docs, 300), docs);
  }
  ~Data() { fs::remove_all(root); }
};
Data* g_data = nullptr;

PretrainOptions small(const fs::path& out, int64_t steps) {
  PretrainOptions o;
  o.data_dir = g_data->dir;
  o.output_dir = out;
  o.n_layer = 2;
  o.n_head = 2;
  o.n_embd = 64;
  o.n_ctx = 64;
  o.batch_size = 4;
  o.lr = 2e-3;
  o.warmup_steps = 20;
  o.max_steps = steps;
  o.eval_every = 0;
  o.eval_tokens = 4096;
  o.save_every = 0;
  o.peak_gflops = 100;  // skip the measurement
  o.threads = 1;
  return o;
}

}  // namespace

TEST(Precision, Bf16ThousandStepsWithinOnePercentOfFp32) {
  std::printf("%s\n", backend::backend_summary().c_str());
  const fs::path f32 = g_data->root / "f32", b16 = g_data->root / "bf16";
  PretrainResult a, b;
  {
    PrecisionScope p(Precision::fp32);
    a = run_pretrain(small(f32, 1000));
  }
  {
    PrecisionScope p(Precision::bf16);
    b = run_pretrain(small(b16, 1000));
  }
  ASSERT_TRUE(a.train.last_val_loss && b.train.last_val_loss);
  const double la = *a.train.last_val_loss, lb = *b.train.last_val_loss;
  std::printf("final val loss: fp32 %.5f, bf16 %.5f (%+.3f%%)\n", la, lb, 100 * (lb - la) / la);
  EXPECT_LT(la, 2.0) << "the fp32 run did not learn the tiny grammar";
  EXPECT_LE(std::fabs(lb - la) / la, 0.01) << "bf16 lands more than 1% away from fp32";
  // Same seed and data but bf16 matmuls: the trajectories must differ (else bf16 was not used).
  EXPECT_NE(read_file(f32 / "final" / "model.safetensors"),
            read_file(b16 / "final" / "model.safetensors"));
  const json s = json::parse(read_file(b16 / "summary.json"));
  EXPECT_EQ(s.value("precision", ""), "bf16");
}

TEST(Precision, Bf16StopAndResumeIsBitwiseIdentical) {
  PrecisionScope p(Precision::bf16);
  const fs::path full = g_data->root / "full", split = g_data->root / "split";
  PretrainOptions o = small(full, 20);
  o.save_every = 7;
  o.eval_every = 10;
  run_pretrain(o);
  TrainHooks stop_at_10;
  stop_at_10.on_step = [](const StepMetrics& m) {
    if (m.step == 10) request_interrupt();  // exactly what Ctrl-C does
  };
  o.output_dir = split;
  EXPECT_TRUE(run_pretrain(o, stop_at_10).train.interrupted);
  o.resume = true;
  {
    // The same checkpoint with another precision is refused before anything is written.
    PrecisionScope other(Precision::fp32);
    try {
      run_pretrain(o);
      FAIL() << "expected a UsageError";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("'precision'"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(run_pretrain(o).train.interrupted);
  auto a = test_data::read_metrics(full), b = test_data::read_metrics(split);
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(b.size(), 20u);
  for (size_t i = 0; i < a.size(); ++i)
    for (const char* k : {"loss", "grad_norm", "val_loss"}) {
      if (a[i].contains(k)) {
        EXPECT_EQ(a[i][k], b[i][k]) << k << " at step " << i + 1;
      }
    }
  EXPECT_EQ(read_file(full / "final" / "model.safetensors"),
            read_file(split / "final" / "model.safetensors"));
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  Data d;
  g_data = &d;
  return RUN_ALL_TESTS();
}
