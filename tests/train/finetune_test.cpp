// Fine-tuning through the library: a run stopped at step 6 and resumed repeats the uninterrupted
// one bit for bit (the example order depends only on the examples consumed), and summary.json
// keeps the base model's metric from start.json.
#include "lmforge/train/finetune.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lmforge/core/file_util.h"
#include "lmforge/core/interrupt.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using namespace lmforge;
using nlohmann::json;

TEST(Finetune, StopAndResumeIsBitwiseIdentical) {
  fs::path root = test_data::temp_dir("finetune");
  auto docs = test_data::tiny_documents(60, 4);
  Tokenizer tok = test_data::tiny_tokenizer(docs, 300);
  ModelConfig c = ModelConfig::preset("tiny", tok.vocab_size());
  c.n_layer = 1;
  c.n_head = c.n_kv_head = 2;
  c.n_embd = 32;
  c.head_dim = 16;
  c.ffn_hidden = 64;
  c.n_ctx = 32;
  c.eos_token_id = c.bos_token_id = tok.eot_id();
  c.validate();
  Transformer m(c);
  m.init_weights(1);
  fs::create_directories(root / "base");
  m.save(root / "base");
  tok.save(root / "base");
  std::string data;
  for (size_t i = 0; i < docs.size(); ++i) {
    const std::string& d = docs[i];
    const size_t cut = d.find(' ', d.find(' ') + 1);
    data += json{{"prompt", d.substr(0, cut)}, {"completion", d.substr(cut, 20)}}.dump() + "\n";
  }
  write_file_atomic(root / "task.jsonl", data);

  auto opts = [&](const fs::path& out) {
    FinetuneOptions o;
    o.stage.init = root / "base";
    o.stage.output = out;
    o.stage.lr = 3e-3;
    o.stage.batch_size = 4;
    o.stage.max_steps = 12;
    o.stage.eval_every = 6;
    o.stage.save_every = 5;
    o.stage.threads = 1;
    o.data = root / "task.jsonl";
    o.eval_samples = 4;
    return o;
  };
  run_finetune(opts(root / "full"));
  TrainHooks stop;
  stop.on_step = [](const StepMetrics& s) {
    if (s.step == 6) request_interrupt();
  };
  FinetuneOptions o = opts(root / "split");
  auto first = run_finetune(o, stop);
  ASSERT_TRUE(first.train.interrupted);
  o.stage.resume = true;
  auto second = run_finetune(o);
  EXPECT_FALSE(second.train.interrupted);
  auto rows = [&](const char* run) {
    std::vector<json> out;
    std::string text = read_file(root / run / "metrics.jsonl");
    for (size_t p = 0, e; (e = text.find('\n', p)) != std::string::npos; p = e + 1)
      out.push_back(json::parse(text.substr(p, e - p)));
    return out;
  };
  auto a = rows("full"), b = rows("split");
  ASSERT_EQ(a.size(), 12u);
  ASSERT_EQ(b.size(), 12u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["loss"], b[i]["loss"]) << "step " << i + 1;
    for (const char* k : {"val_loss", "token_accuracy", "chrf"}) {
      EXPECT_EQ(a[i].contains(k), (i + 1) % 6 == 0) << k;
      EXPECT_EQ(a[i].value(k, -1.0), b[i].value(k, -1.0)) << k;
    }
  }
  EXPECT_EQ(read_file(root / "full" / "final" / "model.safetensors"),
            read_file(root / "split" / "final" / "model.safetensors"));
  json sa = json::parse(read_file(root / "full" / "summary.json"));
  json sb = json::parse(read_file(root / "split" / "summary.json"));
  EXPECT_EQ(sa["task_metric"], sb["task_metric"]);
  EXPECT_EQ(sa["start"], sb["start"]);
  EXPECT_EQ(sa["val_loss"], sb["val_loss"]);
  fs::remove_all(root);
}
