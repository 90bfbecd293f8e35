// `lmforge export` behind the CLI: resolve the model directory, load it (merging a PEFT LoRA
// adapter when present), then write GGUF (export_gguf.cpp) or a clean HF directory (here).
// LoRA merge: PEFT stores base_model.model.<module>.lora_A.weight (r, in) and .lora_B.weight
// (out, r); the merged weight is W + (lora_alpha / r)·B·A (alpha/sqrt(r) with use_rslora).
// Not here: LoRA training, the GGUF container.
#include "lmforge/model/export.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/io/safetensors.h"
#include "lmforge/model/arch.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool has_adapter(const fs::path& dir) {
  return fs::exists(dir / "adapter_config.json") && fs::exists(dir / "adapter_model.safetensors");
}

json read_json(const fs::path& f) {
  try {
    return json::parse(read_file(f));
  } catch (const json::exception& e) {
    throw InputError(f.string(), 0, "", std::string("invalid JSON: ") + e.what());
  }
}

// The base model directory of an adapter directory: itself when it holds config.json, else
// adapter_config.json's base_model_name_or_path (relative paths are relative to the adapter).
fs::path base_dir_of(const fs::path& dir) {
  if (fs::exists(dir / "config.json")) return dir;
  const fs::path f = dir / "adapter_config.json";
  json a = read_json(f);
  if (!a.contains("base_model_name_or_path") || !a["base_model_name_or_path"].is_string())
    throw InputError(f.string(), 0, "base_model_name_or_path", "missing",
                     "the adapter directory has no config.json, so the base model must be named "
                     "by a local directory path");
  fs::path base = a["base_model_name_or_path"].get<std::string>();
  if (base.is_relative()) base = dir / base;
  if (!fs::exists(base / "config.json"))
    throw InputError(f.string(), 0, "base_model_name_or_path",
                     "'" + base.string() + "' is not a local model directory",
                     "lmforge does not download models: point it at a directory");
  return base;
}

// The dtype of the first floating-point tensor of a model directory's safetensors file(s).
DType source_dtype(const fs::path& dir) {
  fs::path f = dir / "model.safetensors";
  if (!fs::exists(f)) {
    const fs::path index = dir / "model.safetensors.index.json";
    if (!fs::exists(index)) return DType::kF32;
    json ij = read_json(index);
    if (!ij.contains("weight_map") || !ij["weight_map"].is_object() || ij["weight_map"].empty() ||
        !ij["weight_map"].begin().value().is_string())
      return DType::kF32;
    f = dir / ij["weight_map"].begin().value().get<std::string>();
  }
  SafetensorsFile sf = SafetensorsFile::open(f);
  for (const std::string& n : sf.names()) {
    DType t = sf.dtype(n);
    if (t == DType::kF32 || t == DType::kF16 || t == DType::kBF16) return t;
  }
  return DType::kF32;
}

const char* torch_dtype_name(DType t) {
  return t == DType::kBF16 ? "bfloat16" : t == DType::kF16 ? "float16" : "float32";
}

}  // namespace

fs::path resolve_model_dir(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw InputError(dir.string(), 0, "", "model directory not found",
                     "pass a model directory (config.json + model.safetensors) or a run directory");
  if (fs::exists(dir / "config.json") || has_adapter(dir)) return dir;
  if (fs::exists(dir / "final" / "config.json") || has_adapter(dir / "final")) return dir / "final";
  throw InputError(dir.string(), 0, "", "neither a model directory nor a run directory",
                   "expected config.json (or a LoRA adapter), or final/ holding them");
}

int merge_lora_adapter(Transformer& m, const fs::path& dir) {
  const fs::path cfg_file = dir / "adapter_config.json";
  json a = read_json(cfg_file);
  auto num = [&](const char* k) -> double {
    if (!a.contains(k) || !a[k].is_number())
      throw InputError(cfg_file.string(), 0, k, "missing or not a number");
    return a[k].get<double>();
  };
  const double r = num("r"), alpha = num("lora_alpha");
  if (r <= 0) throw InputError(cfg_file.string(), 0, "r", "must be positive");
  for (const char* k : {"rank_pattern", "alpha_pattern"})
    if (a.contains(k) && !a[k].is_null() && !a[k].empty())
      throw InputError(cfg_file.string(), 0, k, "per-module ranks or alphas are not supported");
  if (a.contains("bias") && a["bias"].is_string() && a["bias"] != "none")
    throw InputError(cfg_file.string(), 0, "bias",
                     "trained biases in an adapter are not supported");
  if (a.contains("use_dora") && a["use_dora"].is_boolean() && a["use_dora"].get<bool>())
    throw InputError(cfg_file.string(), 0, "use_dora", "DoRA adapters are not supported");
  const bool rs = a.contains("use_rslora") && a["use_rslora"].is_boolean() && a["use_rslora"];
  const float scale = float(rs ? alpha / std::sqrt(r) : alpha / r);

  const SafetensorsFile f = SafetensorsFile::open(dir / "adapter_model.safetensors");
  const std::string prefix = "base_model.model.", a_suffix = ".lora_A.weight",
                    b_suffix = ".lora_B.weight";
  int merged = 0;
  for (const std::string& n : f.names()) {
    if (ends_with(n, b_suffix)) continue;  // handled with its A
    if (n.rfind(prefix, 0) != 0 || !ends_with(n, a_suffix))
      throw InputError(f.path().string(), 0, n, "not a LoRA A/B matrix",
                       "expected base_model.model.<module>.lora_A.weight / .lora_B.weight");
    const std::string module = n.substr(prefix.size(), n.size() - prefix.size() - a_suffix.size());
    const std::string bname = prefix + module + b_suffix, wname = module + ".weight";
    if (!f.has(bname)) throw InputError(f.path().string(), 0, bname, "missing (A has no B)");
    if (!m.params().has(wname))
      throw InputError(f.path().string(), 0, n, "adapts '" + wname + "', which the model lacks");
    const TensorInfo& w = m.params().info(wname);
    const std::vector<int64_t> sa = f.shape(n), sb = f.shape(bname);
    // Our arena holds every matrix as (out, in), GPT-2's Conv1D ones included.
    const int64_t out = w.shape[0], in = w.shape[1];
    if (sa.size() != 2 || sb.size() != 2 || sa[1] != in || sb[0] != out || sb[1] != sa[0])
      throw InputError(f.path().string(), 0, n,
                       "A " + shape_str(sa) + " and B " + shape_str(sb) + " do not fit " + wname +
                           " (out, in) = " + shape_str(w.shape));
    const int64_t rank = sa[0];
    std::vector<float> A(size_t(rank * in)), B(size_t(out * rank));
    f.read_f32(n, A.data(), A.size());
    f.read_f32(bname, B.data(), B.size());
    float* W = m.params().get(wname);
#pragma omp parallel for schedule(static) if (out * in > (1 << 16))
    for (int64_t o = 0; o < out; ++o)
      for (int64_t k = 0; k < rank; ++k) {
        const float b = scale * B[size_t(o * rank + k)];
        const float* ar = A.data() + k * in;
        float* wr = W + o * in;
        for (int64_t i = 0; i < in; ++i) wr[i] += b * ar[i];
      }
    ++merged;
  }
  return merged;
}

Transformer load_for_export(const fs::path& dir, bool* merged) {
  *merged = false;
  if (!has_adapter(dir)) return Transformer::load(dir);
  Transformer m = Transformer::load(base_dir_of(dir));
  merge_lora_adapter(m, dir);
  *merged = true;
  return m;
}

void export_hf(const Transformer& m, const fs::path& src_dir, const fs::path& out_dir,
               DType dtype) {
  check(dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16, "export",
        "HF export writes F32, F16 or BF16");
  ModelConfig cfg = m.config();
  // Qwen2 checkpoints have no o_proj bias; ours is zero unless training moved it, in which case
  // the model is written as a Llama with attention_bias (the same math, loadable by HF).
  bool skip_o_bias = cfg.attn_bias && !cfg.attn_out_bias;
  if (skip_o_bias)
    for (const TensorInfo& t : m.params().entries())
      if (absent_on_disk(cfg, t.name)) {
        const float* x = m.params().get(t.name);
        for (size_t i = 0; i < t.numel; ++i)
          if (x[i] != 0) skip_o_bias = false;
      }
  const ModelConfig model_cfg = cfg;
  if (cfg.attn_bias && !cfg.attn_out_bias && !skip_o_bias) cfg.attn_out_bias = true;
  std::vector<NamedTensor> tensors;
  std::vector<std::vector<uint16_t>> half;
  std::vector<std::vector<float>> trans;
  half.reserve(m.params().entries().size());
  trans.reserve(m.params().entries().size());
  for (const TensorInfo& t : m.params().entries()) {
    if (skip_o_bias && absent_on_disk(model_cfg, t.name)) continue;
    const float* x = m.params().get(t.name);
    std::vector<int64_t> shape = t.shape;
    if (m.stored_transposed(t.name)) {  // GPT-2 Conv1D: (in, out) on disk
      const int64_t rows = t.shape[0], cols = t.shape[1];
      trans.emplace_back(t.numel);
      float* d = trans.back().data();
      for (int64_t rr = 0; rr < rows; ++rr)
        for (int64_t cc = 0; cc < cols; ++cc) d[cc * rows + rr] = x[rr * cols + cc];
      x = d;
      shape = {cols, rows};
    }
    if (dtype == DType::kF32) {
      tensors.push_back({t.name, dtype, shape, x});
      continue;
    }
    half.emplace_back(t.numel);
    for (size_t i = 0; i < t.numel; ++i)
      half.back()[i] = dtype == DType::kF16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
    tensors.push_back({t.name, dtype, shape, half.back().data()});
  }
  json cj = cfg.to_hf_json();
  cj["torch_dtype"] = torch_dtype_name(dtype);
  write_dir_atomic(out_dir, [&](const fs::path& tmp) {
    write_file_atomic(tmp / "config.json", cj.dump(2) + "\n");
    save_safetensors(tmp / "model.safetensors", tensors, {{"format", "pt"}});
    for (const char* f :
         {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
          "merges.txt", "encoder.json", "vocab.bpe", "generation_config.json"})
      if (fs::exists(src_dir / f)) fs::copy_file(src_dir / f, tmp / f);
    if (!fs::exists(tmp / "generation_config.json")) {
      json gen = {{"_from_model_config", true}};
      if (cfg.bos_token_id >= 0) gen["bos_token_id"] = cfg.bos_token_id;
      if (cfg.eos_token_id >= 0) gen["eos_token_id"] = cfg.eos_token_id;
      write_file_atomic(tmp / "generation_config.json", gen.dump(2) + "\n");
    }
  });
}

ExportReport run_export(const ExportOptions& o) {
  if (o.format != "gguf" && o.format != "hf")
    throw UsageError("--format must be gguf or hf, got '" + o.format + "'");
  if (o.output.empty()) throw UsageError("--output is required");
  ExportReport r;
  r.source = resolve_model_dir(o.model);
  Transformer m = load_for_export(r.source, &r.lora_merged);
  // Tokenizer files live with the adapter or with its base model.
  fs::path tok_dir = r.source;
  if (!fs::exists(tok_dir / "tokenizer.json") && r.lora_merged) tok_dir = base_dir_of(r.source);
  const std::string name = !o.name.empty() ? o.name
                           : r.source.filename() == "final"
                               ? r.source.parent_path().filename().string()
                               : r.source.filename().string();
  if (o.format == "gguf") {
    static const std::map<std::string, GgmlType> kTypes = {{"auto", GgmlType::kF16},
                                                           {"f32", GgmlType::kF32},
                                                           {"f16", GgmlType::kF16},
                                                           {"bf16", GgmlType::kBF16},
                                                           {"q8_0", GgmlType::kQ8_0}};
    auto it = kTypes.find(o.dtype);
    if (it == kTypes.end())
      throw UsageError("--dtype must be auto, f32, f16, bf16 or q8_0, got '" + o.dtype + "'");
    if (!fs::exists(tok_dir / "tokenizer.json"))
      throw InputError((tok_dir / "tokenizer.json").string(), 0, "", "file not found",
                       "GGUF embeds the vocabulary: the model directory needs its tokenizer.json");
    export_gguf(m, tok_dir, o.output, it->second, name);
    r.dtype = ggml_type_name(it->second);
    r.tensors = GgufFile::open(o.output).tensors().size();
    r.bytes = fs::file_size(o.output);
  } else {
    DType t;
    if (o.dtype == "auto") {
      t = source_dtype(r.lora_merged ? base_dir_of(r.source) : r.source);
    } else if (o.dtype == "f32") {
      t = DType::kF32;
    } else if (o.dtype == "f16") {
      t = DType::kF16;
    } else if (o.dtype == "bf16") {
      t = DType::kBF16;
    } else {
      throw UsageError("--dtype for --format hf must be auto, f32, f16 or bf16, got '" + o.dtype +
                       "'");
    }
    export_hf(m, tok_dir, o.output, t);
    r.dtype = dtype_name(t);
    r.tensors = SafetensorsFile::open(o.output / "model.safetensors").names().size();
    r.bytes = 0;
    for (const auto& e : fs::directory_iterator(o.output))
      if (e.is_regular_file()) r.bytes += e.file_size();
  }
  return r;
}

}  // namespace lmforge
