// The model-family registry: one ArchSpec per family (src/model/arch/<family>.cpp) holds
// everything lmforge knows about it — the Hugging Face config.json mapping and architecture
// names, the tensor names (HF and GGUF) with which tensors are stored transposed (GPT-2's Conv1D)
// or row-permuted in GGUF (llama.cpp's interleaved RoPE for the "llama" arch), the presets, the
// LoRA targets, and the features (ArchFeatures, model/config.h) the model code branches on. (No
// family needs its own default chat template: ChatML, lmforge's default, is Qwen's format.) Code
// outside src/model/arch/ never compares family names: it asks the spec. Not here: the math of a
// feature (model/transformer.cpp, backend kernels).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmforge/model/config.h"

namespace lmforge {

// What a tensor is to the model code. Global tensors first, then per-layer ones.
enum class TensorRole {
  kEmbed,     // (V,C) token embedding
  kPosEmbed,  // (n_ctx,C) learned positions
  kNormFW,    // (C) final norm weight
  kNormFB,    // (C) final norm bias (LayerNorm)
  kHead,      // (V,C) untied output head
  kNorm1W,    // (C)
  kNorm1B,    // (C) LayerNorm only
  kQKVW,      // (QKV,C) packed q|k|v in one tensor (GPT-2's c_attn)
  kQKVB,      // (QKV)
  kQW,        // (NH·HS,C) separate q, k, v tensors, adjacent in the arena (they form (QKV,C))
  kKW,        // (NKV·HS,C)
  kVW,        // (NKV·HS,C)
  kQB,        // (NH·HS)
  kKB,        // (NKV·HS)
  kVB,        // (NKV·HS)
  kOW,        // (C,NH·HS)
  kOB,        // (C)
  kQNormW,    // (HS) per-head RMSNorm of q (qk_norm)
  kKNormW,    // (HS) per-head RMSNorm of k
  kNorm2W,    // (C)
  kNorm2B,    // (C) LayerNorm only
  kGateW,     // (FF,C) SwiGLU gate; gate and up adjacent in the arena (they form (2FF,C))
  kUpW,       // (FF,C)
  kGateB,     // (FF)
  kUpB,       // (FF)
  kDownW,     // (C,FF)
  kDownB,     // (C)
};

bool is_layer_role(TensorRole r);

// One tensor of a family. Global tensors' names are full; a layer tensor's names are suffixes
// after the layer prefix (HF: spec.hf_layer_prefix + l + "."; GGUF: "blk." + l + ".").
struct TensorSpec {
  TensorRole role;
  const char* hf;
  const char* gguf;
  bool transposed = false;     // stored (in, out) in HF files (GPT-2's Conv1D)
  bool gguf_permuted = false;  // GGUF rows in llama.cpp's interleaved RoPE order
};

// A LoRA target: our name (llama.cpp style), the HF module suffix inside a block, and the
// weight it adapts (which fixes the site and column slice, model/lora.cpp).
struct LoraTargetSpec {
  const char* target;
  const char* module;
  TensorRole weight;
};

struct ArchPreset {
  const char* name;
  ModelConfig (*make)(int vocab_size);
};

struct ArchSpec {
  const char* name;  // ModelConfig::arch
  ArchFeatures features;
  // config.json: model_type values and their architectures[0] names this spec reads; the first
  // is what a config of this family is written as unless to_hf says otherwise.
  std::vector<std::pair<const char*, const char*>> hf_types;
  // Fills c's family-specific fields from a config.json of the given model_type (c.arch is set).
  void (*from_hf)(ModelConfig& c, const nlohmann::json& j, const std::string& file,
                  const std::string& model_type);
  nlohmann::json (*to_hf)(const ModelConfig& c);
  const char* hf_layer_prefix;  // "model.layers." / "transformer.h."
  // Every tensor the family can have, in arena order (biases appear when the config has them).
  std::vector<TensorSpec> tensors;
  const char* gguf_arch;  // general.architecture of our GGUF export
  std::vector<ArchPreset> presets;
  std::vector<LoraTargetSpec> lora_targets;  // canonical order
  const char* default_lora_targets;          // --lora-targets default
  // PEFT target_modules written as the last name component (unique in the family) or in full
  // (GPT-2's c_proj names two modules).
  bool peft_short_modules;
};

// The registry.
const std::vector<const ArchSpec*>& arch_specs();
// UsageError naming the known families when there is none called `name`.
const ArchSpec& arch_spec(const std::string& name);
// Nullptr when no family reads this model_type (or, with model_type empty, architectures[0]).
const ArchSpec* arch_for_hf(const std::string& model_type, const std::string& architecture,
                            std::string* resolved_model_type);
// "gpt2, llama, qwen3" for help texts and errors.
std::string arch_names();

// Does the config have this tensor (bias flags, tying, features)?
bool has_tensor(const ModelConfig& c, TensorRole r);
// The arena (= HF) name of a tensor; layer ignored for global roles. UsageError when absent.
std::string tensor_name(const ModelConfig& c, TensorRole r, int layer = 0);
// The arena shape of a tensor.
std::vector<int64_t> tensor_shape(const ModelConfig& c, TensorRole r);
// The spec entry of an arena name (nullptr when the name is not one of this config's tensors);
// *layer receives the layer index (-1 for a global tensor).
const TensorSpec* find_tensor(const ModelConfig& c, const std::string& name, int* layer);
// An arena tensor that checkpoints of this config do not carry: the o_proj bias of a config with
// q/k/v biases but attn_out_bias false (Qwen2), zero until trained.
bool absent_on_disk(const ModelConfig& c, const std::string& name);
// The GGUF name of an arena name ("" when it has none).
std::string gguf_name(const ModelConfig& c, const std::string& name);

}  // namespace lmforge
