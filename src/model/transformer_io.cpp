// Model directory I/O: config.json + model.safetensors + generation_config.json in Hugging Face's
// layout. Our arena names are the HF names; the only reshaping is GPT-2's Conv1D weights, which
// HF stores (in, out) while our linear kernels want (out, in).
// Reads one model.safetensors or HF's sharded layout (model.safetensors.index.json), F32/F16/BF16;
// writes one F32 file. Qwen2 checkpoints have no o_proj bias on disk: ours stays zero on load and
// is left out on save while it is zero (a trained one is written, with a Llama config). Not here:
// tokenizer files (data/), atomic directory replacement (callers use write_dir_atomic).
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/io/safetensors.h"
#include "lmforge/model/arch.h"
#include "lmforge/model/memory_estimate.h"
#include "lmforge/model/param_layout.h"
#include "lmforge/model/transformer.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

// (rows, cols) → (cols, rows).
void transpose(float* dst, const float* src, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Tensors a HF checkpoint may carry that are buffers, not parameters (GPT-2's causal mask, old
// Llama rotary caches) or a duplicate of a tied head (the spec's head name).
bool ignorable(const ModelConfig& cfg, const std::string& name) {
  bool head = false;
  for (const TensorSpec& t : cfg.spec().tensors)
    head |= t.role == TensorRole::kHead && name == t.hf;
  return ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias") ||
         ends_with(name, "rotary_emb.inv_freq") || (cfg.tie_embeddings && head);
}

}  // namespace

void Transformer::save(const fs::path& dir) const {
  ModelConfig out_cfg = cfg_;
  bool skip_o_bias = false;
  if (cfg_.attn_bias && !cfg_.attn_out_bias) {
    skip_o_bias = true;
    for (const TensorInfo& t : params_.entries())
      if (absent_on_disk(cfg_, t.name)) {
        const float* x = params_.get(t.name);
        for (size_t i = 0; i < t.numel; ++i) skip_o_bias = skip_o_bias && x[i] == 0.0f;
      }
    // A trained o_proj bias is written, and the config then says so (Qwen2 becomes Llama).
    if (!skip_o_bias) out_cfg.attn_out_bias = true;
  }
  nlohmann::json cfg = out_cfg.to_hf_json();
  write_file_atomic(dir / "config.json", cfg.dump(2) + "\n");
  nlohmann::json gen = {{"_from_model_config", true}};
  if (cfg_.bos_token_id >= 0) gen["bos_token_id"] = cfg_.bos_token_id;
  if (cfg_.eos_token_id >= 0) gen["eos_token_id"] = cfg_.eos_token_id;
  write_file_atomic(dir / "generation_config.json", gen.dump(2) + "\n");

  std::vector<NamedTensor> tensors;
  for (const TensorInfo& t : params_.entries()) {
    if (skip_o_bias && absent_on_disk(cfg_, t.name)) continue;
    const float* data = params_.get(t.name);
    if (stored_transposed(t.name)) {
      // Transposed as it is written, into one buffer for all of them: a copy of every Conv1D
      // weight at once would add ~all the weights again to the peak memory of every checkpoint.
      const int64_t rows = t.shape[0], cols = t.shape[1];
      tensors.push_back({t.name, DType::kF32, {cols, rows}, nullptr, [=](void* out) {
                           transpose(static_cast<float*>(out), data, rows, cols);
                         }});
    } else {
      tensors.push_back({t.name, DType::kF32, t.shape, data});
    }
  }
  save_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
}

Transformer Transformer::load(const fs::path& dir) {
  const fs::path cfg_path = dir / "config.json";
  if (!fs::is_directory(dir))
    throw InputError(dir.string(), 0, "", "model directory not found",
                     "pass a directory holding config.json and model.safetensors");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(cfg_path));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(cfg_path.string(), 0, "", std::string("invalid JSON: ") + e.what());
  }
  const ModelConfig cfg = ModelConfig::from_hf_json(j, cfg_path.string());
  // One model.safetensors, or HF's sharded layout: model.safetensors.index.json maps each
  // tensor name to a shard file in the same directory.
  std::vector<SafetensorsFile> shards;
  std::map<std::string, size_t> where;  // tensor name → shard
  const fs::path single = dir / "model.safetensors", index = dir / "model.safetensors.index.json";
  if (fs::exists(single) || !fs::exists(index)) {
    if (!fs::exists(single))
      throw InputError(single.string(), 0, "", "file not found",
                       "a model directory holds model.safetensors (or a sharded index)");
    shards.push_back(SafetensorsFile::open(single));
    for (const std::string& n : shards[0].names()) where[n] = 0;
  } else {
    nlohmann::json ij;
    try {
      ij = nlohmann::json::parse(read_file(index));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(index.string(), 0, "", std::string("invalid JSON: ") + e.what());
    }
    if (!ij.contains("weight_map") || !ij["weight_map"].is_object())
      throw InputError(index.string(), 0, "weight_map", "missing or not an object");
    std::map<std::string, size_t> shard_of_file;
    for (auto it = ij["weight_map"].begin(); it != ij["weight_map"].end(); ++it) {
      const auto& v = it.value();
      if (!v.is_string() || v.get<std::string>().find('/') != std::string::npos ||
          v.get<std::string>().rfind("..", 0) == 0)
        throw InputError(index.string(), 0, "weight_map." + it.key(),
                         "expected a shard file name in the same directory");
      auto [sit, fresh] = shard_of_file.emplace(v.get<std::string>(), shards.size());
      if (fresh) shards.push_back(SafetensorsFile::open(dir / v.get<std::string>()));
      if (!shards[sit->second].has(it.key()))
        throw InputError(shards[sit->second].path().string(), 0, it.key(),
                         "listed in the index but not in this shard");
      where[it.key()] = sit->second;
    }
  }
  const std::string file = shards.size() == 1 ? shards[0].path().string() : index.string();

  // OpenAI's original GPT-2 upload names tensors without the "transformer." prefix.
  auto file_name = [&](const std::string& name) {
    if (where.count(name)) return name;
    const std::string prefix = "transformer.";
    if (name.rfind(prefix, 0) == 0 && where.count(name.substr(prefix.size())))
      return name.substr(prefix.size());
    return name;
  };
  // Before allocating anything: every tensor the config implies is in the files with its number
  // of elements (a config.json claiming 65536 layers fails here, not after gigabytes), and the
  // model fits in memory.
  for_each_param(cfg, [&](const std::string& name, const std::vector<int64_t>& shape) {
    const std::string fname = file_name(name);
    if (!where.count(fname) && absent_on_disk(cfg, name)) return true;
    if (!where.count(fname))
      throw InputError(file, 0, name, "missing tensor",
                       "the checkpoint does not match " + cfg_path.string() + " (" + cfg.arch +
                           ", " + std::to_string(cfg.n_layer) + " layers)");
    int64_t want = 1, have = 1;
    for (int64_t d : shape) want *= d;
    const SafetensorsFile& f = shards[where[fname]];
    for (int64_t d : f.shape(fname)) have *= d;
    if (want != have)
      throw InputError(f.path().string(), 0, name,
                       "shape " + shape_str(f.shape(fname)) + ", expected " + shape_str(shape),
                       "the checkpoint does not match " + cfg_path.string());
    return true;
  });
  require_memory(load_memory(cfg), "the model in " + dir.string(),
                 "check the sizes in " + cfg_path.string());

  Transformer m(cfg);
  std::set<std::string> used;
  std::vector<float> tmp;
  for (const TensorInfo& t : m.params_.entries()) {
    const std::string fname = file_name(t.name);
    if (!where.count(fname) && absent_on_disk(m.cfg_, t.name)) continue;  // zero, as in Qwen2
    if (!where.count(fname))
      throw InputError(file, 0, t.name, "missing tensor",
                       "the checkpoint does not match config.json (" + m.cfg_.arch + ")");
    const SafetensorsFile& f = shards[where[fname]];
    used.insert(fname);
    const bool tr = m.stored_transposed(t.name);
    std::vector<int64_t> want = tr ? std::vector<int64_t>{t.shape[1], t.shape[0]} : t.shape;
    if (f.shape(fname) != want)
      throw InputError(f.path().string(), 0, t.name,
                       "shape " + shape_str(f.shape(fname)) + ", expected " + shape_str(want),
                       "the checkpoint does not match config.json");
    float* dst = m.params_.get(t.name);
    if (tr) {
      tmp.resize(t.numel);
      f.read_f32(fname, tmp.data(), t.numel);
      transpose(dst, tmp.data(), want[0], want[1]);
    } else {
      f.read_f32(fname, dst, t.numel);
    }
    // A NaN or Inf weight makes every loss and sample NaN without an error: refuse it here.
    for (size_t i = 0; i < t.numel; ++i)
      if (!std::isfinite(dst[i]))
        throw InputError(f.path().string(), 0, t.name,
                         std::string("holds a non-finite value (") +
                             (std::isnan(dst[i]) ? "nan" : "inf") + ") at element " +
                             std::to_string(i) + " of " + std::to_string(t.numel),
                         "the checkpoint is damaged or its training diverged: use an earlier "
                         "checkpoint");
  }
  for (const auto& [n, shard] : where) {
    if (used.count(n) || ignorable(m.cfg_, n)) continue;
    throw InputError(shards[shard].path().string(), 0, n, "unexpected tensor",
                     "the checkpoint has weights this " + m.cfg_.arch +
                         " config does not use (different architecture or options?)");
  }
  return m;
}

}  // namespace lmforge
