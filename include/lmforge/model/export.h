// Export of a model directory to the tools people use: GGUF v3 for llama.cpp / Ollama (tensor
// names, metadata keys and the Llama Q/K row order of llama.cpp's own HF converter) and a clean
// Hugging Face directory (with a PEFT LoRA adapter merged in). Also the way back from GGUF to a
// Transformer, which the tests use to prove the export lossless.
// Not here: the GGUF container itself (io/gguf.h), training of LoRA adapters.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lmforge/io/gguf.h"
#include "lmforge/model/transformer.h"

namespace lmforge {

struct ExportOptions {
  std::filesystem::path model;   // model directory, or a run directory holding final/
  std::string format = "gguf";   // "gguf" | "hf"
  std::filesystem::path output;  // model.gguf, or the HF directory to (re)create
  // "auto" (GGUF: f16 matrices; HF: the source checkpoint's dtype), "f32", "f16", "bf16", or
  // "q8_0" (GGUF only). 1-D tensors (norms, biases) stay f32 in GGUF, as llama.cpp's converter.
  std::string dtype = "auto";
  std::string name;  // general.name (default: the model directory's name)
};

struct ExportReport {
  std::filesystem::path source;  // the model directory actually read
  std::string dtype;             // what was written
  size_t tensors = 0;
  uint64_t bytes = 0;  // size of the written file(s)
  bool lora_merged = false;
};

// The whole `lmforge export`: load (merging a LoRA adapter when the directory has one), write.
// UsageError on a bad option, InputError naming the file for bad input.
ExportReport run_export(const ExportOptions& opts);

// Resolves a run directory to its final/ model, keeps a model directory as it is.
std::filesystem::path resolve_model_dir(const std::filesystem::path& dir);

// Loads dir's model; when dir has adapter_config.json + adapter_model.safetensors (PEFT), the
// base weights come from dir itself or from the adapter's base_model_name_or_path (a directory,
// relative to dir or absolute) and W += (lora_alpha / r)·B·A is applied to each adapted matrix.
// *merged tells whether an adapter was applied.
Transformer load_for_export(const std::filesystem::path& dir, bool* merged);
// Applies a PEFT adapter directory to m (the math above). Returns the number of merged matrices.
int merge_lora_adapter(Transformer& m, const std::filesystem::path& adapter_dir);

// GGUF: tokenizer_dir holds tokenizer.json (byte-level BPE) and optionally tokenizer_config.json
// (chat_template); wtype is the type of the 2-D matrices.
void export_gguf(const Transformer& m, const std::filesystem::path& tokenizer_dir,
                 const std::filesystem::path& out, GgmlType wtype, const std::string& name);
// HF directory: config.json, model.safetensors in dtype, generation_config.json, and the source
// directory's tokenizer files copied verbatim. Atomic (write_dir_atomic).
void export_hf(const Transformer& m, const std::filesystem::path& src_dir,
               const std::filesystem::path& out_dir, DType dtype);

// The way back: config from the GGUF metadata, tensors dequantized to f32 and un-permuted.
ModelConfig config_from_gguf(const GgufFile& g);
Transformer transformer_from_gguf(const GgufFile& g);
// llama.cpp's name for one of our (HF) tensor names, "" when it has none.
std::string gguf_tensor_name(const ModelConfig& cfg, const std::string& hf_name);

// llama.cpp's RoPE pairs adjacent elements (x[2i], x[2i+1]); HF's rotate-half pairs x[i] with
// x[i + HS/2]. Reorders the rows of a (heads·HS, cols) matrix from HF order to llama.cpp order
// (inverse = false) or back, as convert_hf_to_gguf.py's permute().
void permute_rope_rows(const float* src, float* dst, int heads, int head_dim, int64_t cols,
                       bool inverse);

}  // namespace lmforge
