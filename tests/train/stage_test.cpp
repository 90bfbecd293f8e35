// Shared stage plumbing: option checks, step counts, output rules, a LoRA stage that trains
// only its adapters and whose --merge model computes what base + adapter computes, resume that
// keeps the step-0 metrics, summary.json, and MFU's denominator (the machine peak for the
// precision in use).
#include "lmforge/train/stage.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/model/lora.h"
#include "support/tiny_corpus.h"
#include "train/fake_peak.h"

namespace fs = std::filesystem;
using namespace lmforge;
using nlohmann::json;

namespace {

ModelConfig tiny_config() {
  ModelConfig c = ModelConfig::preset("tiny", 40);
  c.n_layer = 1;
  c.n_head = 2;
  c.n_kv_head = 2;
  c.n_embd = 16;
  c.head_dim = 8;
  c.ffn_hidden = 64;
  c.n_ctx = 16;
  c.validate();
  return c;
}

// A model directory with a placeholder tokenizer.json (the plumbing never parses it).
fs::path write_model(const fs::path& dir) {
  Transformer m(tiny_config());
  m.init_weights(7);
  fs::create_directories(dir);
  m.save(dir);
  write_file_atomic(dir / "tokenizer.json", "{}");
  return dir;
}

// Copies a fixed sequence into every row: a model learns it in a few steps.
class FixedSource : public BatchSource {
 public:
  void next(int32_t* ids, int32_t* targets) override {
    for (int b = 0; b < 2; ++b)
      for (int t = 0; t < 8; ++t) {
        ids[b * 8 + t] = (t * 3 + pos_) % 40;
        targets[b * 8 + t] = t < 3 ? -1 : ((t + 1) * 3 + pos_) % 40;
      }
  }
  int64_t position() const override { return pos_; }
  void set_position(int64_t p) override { pos_ = p % 1; }

 private:
  int64_t pos_ = 0;
};

StageOptions base_options(const fs::path& root) {
  StageOptions o;
  o.init = root / "init";
  o.output = root / "run";
  o.lr = 1e-2;
  o.batch_size = 2;
  o.max_steps = 12;
  o.warmup_steps = 0;
  o.threads = 1;
  return o;
}

}  // namespace

TEST(Stage, ValidatesOptions) {
  StageOptions o;
  o.init = "m";
  o.output = "r";
  EXPECT_NO_THROW(validate_stage_options(o));
  StageOptions bad = o;
  bad.merge = true;
  EXPECT_THROW(validate_stage_options(bad), UsageError);
  bad = o;
  bad.lr = 0;
  EXPECT_THROW(validate_stage_options(bad), UsageError);
  bad = o;
  bad.epochs = 0;
  EXPECT_THROW(validate_stage_options(bad), UsageError);
  bad = o;
  bad.lr_decay = "step";
  EXPECT_THROW(validate_stage_options(bad), UsageError);
}

TEST(Stage, TotalStepsAndSchedule) {
  StageOptions o;
  o.batch_size = 4;
  o.grad_accum = 2;
  o.epochs = 3;
  EXPECT_EQ(stage_total_steps(o, 20), 8);  // ceil(60 / 8)
  EXPECT_EQ(stage_total_steps(o, 0), 1);
  o.max_steps = 5;
  EXPECT_EQ(stage_total_steps(o, 1000), 5);
  o.lr = 1e-3;
  LrSchedule s = stage_schedule(o, 100);
  EXPECT_DOUBLE_EQ(s.min_lr, 1e-4);
  EXPECT_EQ(s.warmup_steps, 5);
}

TEST(Stage, InitMustBeAModelDirectory) {
  fs::path root = test_data::temp_dir("stage-init");
  EXPECT_THROW(read_init_config(root), InputError);
  Transformer m(tiny_config());
  m.save(root);
  EXPECT_THROW(read_init_config(root), InputError);  // no tokenizer.json
  write_file_atomic(root / "tokenizer.json", "{}");
  EXPECT_EQ(read_init_config(root).n_embd, 16);
  fs::remove_all(root);
}

TEST(Stage, RefusesAModelThatCannotFitBeforeWritingAnything) {
  fs::path root = test_data::temp_dir("stage-memory");
  write_model(root / "init");
  json cfg = json::parse(read_file(root / "init" / "config.json"));
  cfg["n_layer"] = 65536;  // ~3 TB of parameters with n_embd 2048
  cfg["n_embd"] = 2048;
  cfg["n_inner"] = 8192;
  write_file_atomic(root / "init" / "config.json", cfg.dump());
  StageOptions o = base_options(root);
  try {
    begin_stage("test", o, json::object(), 12, {});
    ADD_FAILURE() << "a model of 65536 layers was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("available"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.output));
  fs::remove_all(root);
}

TEST(Stage, LoraTrainsAdaptersOnlyAndMergeMatches) {
  fs::path root = test_data::temp_dir("stage-lora");
  write_model(root / "init");
  StageOptions o = base_options(root);
  o.lora_rank = 4;
  o.lora_targets = "attn_qkv,ffn_up";
  o.merge = true;
  StageRun run = begin_stage("test", o, json::object(), 12, {root / "init" / "tokenizer.json"});
  ASSERT_TRUE(run.model->has_lora());
  FixedSource src;
  LanguageModelObjective obj(*run.model, src, 2, 8);
  std::vector<int32_t> ids(16), tg(16);
  src.next(ids.data(), tg.data());
  auto measure = [&]() {
    return json{{"val_loss", double(run.model->forward(ids.data(), tg.data(), 2, 8))}};
  };
  const double start = stage_start_metrics(run, measure)["val_loss"];
  TrainHooks hooks;
  hooks.eval = [&]() { return std::map<std::string, double>{{"val_loss", measure()["val_loss"]}}; };
  TrainResult r = run_stage_loop(run, obj, hooks);
  ASSERT_TRUE(r.last_val_loss);
  EXPECT_LT(*r.last_val_loss, start - 0.1);
  fs::path fin = finish_stage(run, r, json{{"mean_reward", 1.5}});

  // The base weights did not move; the merged model computes the adapted logits.
  Transformer init = Transformer::load(root / "init");
  const ParamArena& a = init.params();
  const ParamArena& b = run.model->params();
  for (size_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]);
  Transformer merged = Transformer::load(fin);
  EXPECT_FALSE(LoraAdapters::present(fin));
  EXPECT_TRUE(LoraAdapters::present(root / "run" / "adapter"));
  const float* la = run.model->forward_logits(ids.data(), 2, 8);
  std::vector<float> adapted(la, la + 16 * 40);
  const float* lm = merged.forward_logits(ids.data(), 2, 8);
  for (size_t i = 0; i < adapted.size(); ++i) ASSERT_NEAR(adapted[i], lm[i], 1e-4);
  EXPECT_TRUE(fs::exists(fin / "tokenizer.json"));

  json s = json::parse(read_file(root / "run" / "summary.json"));
  EXPECT_EQ(s["stage"], "test");
  EXPECT_EQ(s["steps"], 12);
  EXPECT_NEAR(s["start"]["val_loss"].get<double>(), start, 1e-9);
  EXPECT_NEAR(s["val_loss"].get<double>(), *r.last_val_loss, 1e-9);
  EXPECT_EQ(s["mean_reward"], 1.5);

  // The same output again is refused; --resume of the finished run keeps the start metrics.
  EXPECT_THROW(begin_stage("test", o, json::object(), 12, {}), UsageError);
  StageOptions again = o;
  again.resume = true;
  StageRun resumed = begin_stage("test", again, json::object(), 12, {});
  EXPECT_EQ(resumed.state.step, 12);
  EXPECT_TRUE(resumed.model->has_lora());
  EXPECT_NEAR(resumed.start["val_loss"].get<double>(), start, 1e-9);
  // A changed setting is refused on resume.
  again.lora_rank = 2;
  EXPECT_THROW(begin_stage("test", again, json::object(), 12, {}), UsageError);
  fs::remove_all(root);
}

TEST(Stage, MfuDividesByTheMachinePeakOfThePrecisionInUse) {
  using lmforge::backend::Precision;
  fs::path root = test_data::temp_dir("stage-peak");
  write_model(root / "init");
  test_peak::FakePeak peak(root / "cache", 1, {{Precision::fp32, 123.5}, {Precision::bf16, 456.5}});
  StageOptions o = base_options(root);  // one thread, as the fake entries
  StageRun fp32 = begin_stage("test", o, json::object(), 12, {});
  EXPECT_DOUBLE_EQ(fp32.loop.peak_flops, 123.5e9);
  EXPECT_NE(read_file(o.output / "config.yaml").find("mfu against the fp32 peak 123.5 GFLOP/s"),
            std::string::npos);
  lmforge::backend::PrecisionScope bf16(Precision::bf16);
  o.output = root / "run-bf16";
  StageRun b = begin_stage("test", o, json::object(), 12, {});
  EXPECT_DOUBLE_EQ(b.loop.peak_flops, 456.5e9);
  fs::remove_all(root);
}

TEST(Stage, LoraWithoutMergeWritesAdapterOnly) {
  fs::path root = test_data::temp_dir("stage-adapter");
  write_model(root / "init");
  StageOptions o = base_options(root);
  o.lora_rank = 2;
  o.max_steps = 2;
  StageRun run = begin_stage("test", o, json::object(), 2, {root / "init" / "tokenizer.json"});
  FixedSource src;
  LanguageModelObjective obj(*run.model, src, 2, 8);
  TrainResult r = run_stage_loop(run, obj, {});
  fs::path fin = finish_stage(run, r, json::object());
  EXPECT_TRUE(LoraAdapters::present(fin));
  EXPECT_FALSE(fs::exists(fin / "model.safetensors"));
  json cfg = json::parse(read_file(fin / "adapter_config.json"));
  EXPECT_EQ(cfg["r"], 2);
  // The saved adapter loads onto the base model.
  Transformer m = Transformer::load(root / "init");
  m.load_lora(fin);
  EXPECT_TRUE(m.has_lora());
  fs::remove_all(root);
}

// A stage's own files go into final/ next to the model, and whole_model makes final/ the merged
// model even without --merge (the reward model's layout), the adapter then in RUN/adapter/.
TEST(Stage, ExtraFilesAndWholeModelInFinal) {
  fs::path root = test_data::temp_dir("stage-extra");
  write_model(root / "init");
  StageOptions o = base_options(root);
  o.lora_rank = 2;
  o.max_steps = 2;
  StageRun run = begin_stage("test", o, json::object(), 2, {root / "init" / "tokenizer.json"});
  FixedSource src;
  LanguageModelObjective obj(*run.model, src, 2, 8);
  TrainResult r = run_stage_loop(run, obj, {});
  StageFinal extra;
  extra.whole_model = true;
  extra.files.push_back({"head.txt", [](const fs::path& f) { write_file_atomic(f, "head"); }});
  fs::path fin = finish_stage(run, r, json{{"score", 2}}, extra);
  EXPECT_EQ(read_file(fin / "head.txt"), "head");
  EXPECT_FALSE(LoraAdapters::present(fin));
  EXPECT_TRUE(fs::exists(fin / "model.safetensors"));
  EXPECT_TRUE(fs::exists(fin / "tokenizer.json"));
  EXPECT_TRUE(LoraAdapters::present(root / "run" / "adapter"));
  json s = json::parse(read_file(root / "run" / "summary.json"));
  EXPECT_EQ(s["score"], 2);
  for (const char* k : {"stage", "steps", "val_loss", "precision", "backend"})
    EXPECT_TRUE(s.contains(k)) << k;
  fs::remove_all(root);
}

// Without --init, a fresh model of the given configuration, initialized from --seed (pretraining);
// the memory check and RUN/config.yaml describe it; resume and the finished-run path work as for
// the other stages (the loss of the last step comes back from metrics.jsonl).
TEST(Stage, FreshModelWithoutInit) {
  fs::path root = test_data::temp_dir("stage-fresh");
  StageOptions o = base_options(root);
  o.init.clear();
  o.max_steps = 3;
  o.seq_len = 8;
  o.peak_gflops = 100;
  EXPECT_THROW(validate_stage_options(o), UsageError);
  EXPECT_NO_THROW(validate_stage_options(o, /*init_required=*/false));
  const ModelConfig cfg = tiny_config();
  StageRun run = begin_stage("test", o, json::object(), 3, {}, {}, cfg);
  Transformer same(cfg);
  same.init_weights(o.seed);
  ASSERT_EQ(run.model->params().numel(), same.params().numel());
  for (size_t i = 0; i < same.params().numel(); ++i)
    ASSERT_EQ(run.model->params().data()[i], same.params().data()[i]);
  const std::string yaml = read_file(o.output / "config.yaml");
  EXPECT_NE(yaml.find("new gpt2 model, " + std::to_string(cfg.num_params()) + " parameters"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("given peak 100.0 GFLOP/s"), std::string::npos) << yaml;
  FixedSource src;
  LanguageModelObjective obj(*run.model, src, 2, 8);
  TrainResult r = run_stage_loop(run, obj, {});
  fs::path fin = finish_stage(run, r, json::object());
  EXPECT_TRUE(fs::exists(fin / "model.safetensors"));
  // The finished run again: nothing trains, the last loss is the logged one.
  StageOptions again = o;
  again.resume = true;
  StageRun done = begin_stage("test", again, json::object(), 3, {}, {}, cfg);
  ASSERT_TRUE(done.finished());
  LanguageModelObjective obj2(*done.model, src, 2, 8);
  TrainResult r2 = run_stage_loop(done, obj2, {});
  EXPECT_EQ(r2.steps_done, 3);
  EXPECT_NEAR(r2.last_loss, r.last_loss, 1e-6);
  // A fresh model too large for the machine is refused before anything is written.
  ModelConfig huge = cfg;
  huge.n_layer = 65536;
  huge.n_embd = 2048;
  huge.head_dim = 1024;
  huge.ffn_hidden = 8192;
  StageOptions other = o;
  other.output = root / "huge";
  try {
    begin_stage("test", other, json::object(), 3, {}, {}, huge);
    ADD_FAILURE() << "a model of 65536 layers was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("new gpt2 model (L=65536"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(other.output));
  fs::remove_all(root);
}
