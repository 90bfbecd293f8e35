// A LoRA run's final/ without --merge (PEFT adapter files naming the base model, plus the
// tokenizer) loads for inference: LoadedModel attaches the adapter to its base unmerged, and the
// one forward applies it, so generate, chat and serve see base + adapter: the same logits as the
// merged model (within float rounding) and the same greedy tokens. A missing or unnamed base is
// an InputError naming the field.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/infer/generate.h"
#include "lmforge/infer/loaded_model.h"
#include "support/tiny_model.h"

using namespace lmforge;
using namespace lmforge::test;
namespace fs = std::filesystem;

TEST(InferLoraDir, AdapterDirectoryServedUnmergedAsTheMergedModel) {
  const int V = Tokenizer::load(tokenizer_dir()).vocab_size();
  Transformer m = make_model(tiny_cfg("llama", V), 3);
  const fs::path base = save_model_dir(m, "lora-base");
  LoraConfig lc;
  lc.rank = 2;
  lc.targets = {"attn_q", "attn_v", "ffn_down"};
  m.enable_lora(lc, 4);
  for (size_t i = 0; i < m.lora()->params().numel(); ++i)  // B off zero: the adapter matters
    m.lora()->params().data()[i] += 0.05f * float(std::cos(double(i)));
  const fs::path adapter = base.string() + "-adapter";
  fs::remove_all(adapter);
  fs::create_directories(adapter);
  m.lora()->save(adapter, base.string());
  fs::copy_file(tokenizer_dir() / "tokenizer.json", adapter / "tokenizer.json");

  const std::vector<int32_t> ids = {1, 5, 9, 2, 7};
  std::vector<float> want(m.forward_logits(ids.data(), 1, 5),
                          m.forward_logits(ids.data(), 1, 5) + 5 * V);
  auto loaded = LoadedModel::load(adapter);
  EXPECT_TRUE(loaded->model.has_lora());  // served unmerged
  const float* got = loaded->model.forward_logits(ids.data(), 1, 5);
  double diff_base = 0;
  Transformer plain = Transformer::load(base);
  const float* b = plain.forward_logits(ids.data(), 1, 5);
  for (int i = 0; i < 5 * V; ++i) {
    ASSERT_NEAR(got[i], want[i], 2e-5f + 2e-5f * std::fabs(want[i])) << i;
    diff_base += std::fabs(b[i] - want[i]);
  }
  EXPECT_GT(diff_base / (5 * V), 1e-4);  // and differs from the base alone

  // Greedy generation through the engine: unmerged adapter == merged model, token for token, and
  // != the base alone.
  Tokenizer tok = Tokenizer::load(tokenizer_dir());
  auto greedy = [&](InferenceModel& im) {
    GenerateRequest req;
    req.prompt = ids;
    req.max_tokens = 24;
    req.sampling.temperature = 0.0f;
    Sequence sq(im, tok, req);
    Sequence* one = &sq;
    while (!sq.done()) step(im, {&one, 1});
    return sq.generated();
  };
  Transformer merged = Transformer::load(base);
  merged.load_lora(adapter);
  merged.merge_lora();
  InferenceModel merged_im(merged), plain_im(plain);
  const std::vector<int32_t> served = greedy(*loaded->infer);
  EXPECT_EQ(served, greedy(merged_im));
  EXPECT_NE(served, greedy(plain_im));

  // An adapter whose base is gone names the field.
  auto cfg = nlohmann::json::parse(read_file(adapter / "adapter_config.json"));
  cfg["base_model_name_or_path"] = (base.string() + "-missing");
  write_file_atomic(adapter / "adapter_config.json", cfg.dump());
  try {
    LoadedModel::load(adapter);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("base_model_name_or_path"), std::string::npos) << e.what();
  }
  fs::remove_all(base);
  fs::remove_all(adapter);
}
