// Model loading refuses what would waste memory or silently poison results (issue 13, items 14,
// 15): a config.json whose tensor list the checkpoint does not have is refused before the model
// is allocated; NaN/Inf weights are refused naming the tensor and the file. Also the memory
// estimate agrees with what Transformer really allocates, and the shared parameter layout with
// the arena.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/model/memory_estimate.h"
#include "lmforge/model/param_layout.h"
#include "lmforge/model/transformer.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("lmforge-load-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

ModelConfig small(const std::string& preset) {
  ModelConfig c = ModelConfig::preset(preset, 97);
  c.n_layer = 2;
  c.n_ctx = 24;
  return c;
}

InputError load_error(const fs::path& dir) {
  try {
    Transformer::load(dir);
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an InputError loading " << dir;
  return InputError("", 0, "", "");
}

}  // namespace

TEST(LoadChecks, NonFiniteWeightNamesTensorAndFile) {
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    fs::path d = fresh_dir("nan");
    Transformer m(small("tiny"));
    m.init_weights(1);
    m.params().get("transformer.h.1.mlp.c_fc.bias")[5] = bad;
    m.save(d);
    InputError e = load_error(d);
    EXPECT_EQ(e.file(), (d / "model.safetensors").string());
    EXPECT_EQ(e.field(), "transformer.h.1.mlp.c_fc.bias");
    EXPECT_NE(e.message().find("element 5"), std::string::npos) << e.what();
    fs::remove_all(d);
  }
}

TEST(LoadChecks, ConfigClaimingMoreLayersFailsBeforeAllocating) {
  fs::path d = fresh_dir("layers");
  Transformer m(small("llama-tiny"));
  m.save(d);
  auto j = nlohmann::json::parse(read_file(d / "config.json"));
  // 65536 layers of 4096 wide: ~13 T parameters. Allocating it first would end in bad_alloc (or
  // gigabytes of zeroed pages) before the missing tensors were noticed.
  j["num_hidden_layers"] = 65536;
  write_file_atomic(d / "config.json", j.dump());
  InputError e = load_error(d);
  EXPECT_EQ(e.field(), "model.layers.2.input_layernorm.weight");
  EXPECT_NE(e.message().find("missing tensor"), std::string::npos) << e.what();
  j["hidden_size"] = 4096;
  j["head_dim"] = 1024;
  j["intermediate_size"] = 16384;
  write_file_atomic(d / "config.json", j.dump());
  e = load_error(d);
  EXPECT_EQ(e.field(), "model.embed_tokens.weight");
  fs::remove_all(d);
}

TEST(LoadChecks, MemoryEstimateMatchesTheRealAllocations) {
  for (const char* preset : {"tiny", "llama-tiny", "qwen3-tiny"}) {
    ModelConfig c = small(preset);
    c.tie_embeddings = false;
    Transformer m(c);
    for (int N : {1, 7, 33})
      EXPECT_EQ(activation_floats(c, N) * sizeof(float), double(m.activation_bytes(1, N)))
          << preset << " N=" << N;
    const MemoryEstimate load = load_memory(c);
    EXPECT_EQ(load.parts[0].second, double(m.params().numel() * sizeof(float)));
    // The shared layout is the arena's, entry by entry.
    size_t i = 0;
    for_each_param(c, [&](const std::string& name, const std::vector<int64_t>& shape) {
      EXPECT_EQ(name, m.params().entries().at(i).name);
      EXPECT_EQ(shape, m.params().entries().at(i).shape);
      ++i;
      return true;
    });
    EXPECT_EQ(i, m.params().entries().size());
  }
}

TEST(LoadChecks, TrainingEstimateRefusesAbsurdSizes) {
  ModelConfig c = ModelConfig::preset("tiny", 300);
  c.n_layer = 100000000;  // `--n-layer 100000000`: used to grow until the machine gave up
  const MemoryEstimate need = training_memory(c, 8, 128);
  EXPECT_GT(need.total(), 1e15);
  if (available_memory_bytes() <= 0) GTEST_SKIP() << "no /proc/meminfo on this machine";
  try {
    require_memory(need, "training");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("AdamW moments"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/proc/meminfo"), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(require_memory(training_memory(ModelConfig::preset("tiny", 300), 8, 128), "x"));
}
