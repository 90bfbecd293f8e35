// LoRA adapters (Hu et al. 2021) on the transformer's linear layers: for a target linear
// y = x·Wᵀ (W (OUT,IN) frozen) the adapter adds scaling·(x·Aᵀ)·Bᵀ with A (r,IN), B (OUT,r),
// scaling = alpha / r. A starts as PEFT's kaiming-uniform (U(±1/sqrt(IN))), B as zeros, so a fresh
// adapter leaves the model unchanged. Adapters live in their own ParamArena (plus gradients), so
// optimizer memory scales with the adapters, never with the model.
// Targets use llama.cpp-style names: attn_q, attn_k, attn_v, attn_o, ffn_gate, ffn_up, ffn_down
// (Llama), and attn_qkv (GPT-2's packed c_attn), attn_o, ffn_up, ffn_down (GPT-2). On disk they are
// PEFT's files: adapter_config.json + adapter_model.safetensors with keys
// "base_model.model.<module>.lora_A.weight" (r,IN) and ".lora_B.weight" (OUT,r).
// Not here: LoRA dropout (always 0), DoRA/rsLoRA variants, adapters on embeddings or the head.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lmforge/core/arena.h"
#include "lmforge/model/config.h"

namespace lmforge {

struct LoraConfig {
  int rank = 8;
  float alpha = 16.0f;
  std::vector<std::string> targets = {"attn_q", "attn_v"};
};

// The four linear sites of a block; q/k/v (and gate/up) are column slices of one packed output.
enum class LoraSite { kQKV, kO, kUp, kDown };

class LoraAdapters {
 public:
  // UsageError on an unknown target for this architecture or rank < 1.
  LoraAdapters(const ModelConfig& model, LoraConfig cfg, uint64_t seed);

  const LoraConfig& config() const { return cfg_; }
  float scaling() const { return cfg_.alpha / float(cfg_.rank); }
  ParamArena& params() { return params_; }
  const ParamArena& params() const { return params_; }
  ParamArena& grads() { return grads_; }

  // out (N, site width) += scaling·(inp·Aᵀ)·Bᵀ on each adapted column slice of the site.
  void forward(LoraSite site, int layer, float* out, const float* inp, int N) const;
  // For the same site: dA, dB += their gradients; dinp (N,IN) += the adapters' input gradient.
  void backward(LoraSite site, int layer, float* dinp, const float* dout, const float* inp, int N);

  // Adds scaling·B·A into the base weights of `params` (the model's arena, HF names): the merged
  // model computes what base + adapter computed.
  void merge_into(ParamArena& params) const;

  // PEFT files in dir: adapter_config.json (only keys PEFT's LoraConfig knows; fan_in_fan_out for
  // GPT-2's Conv1D) and adapter_model.safetensors (F32), each written atomically.
  void save(const std::filesystem::path& dir, const std::string& base_model = "") const;
  // Reads target_modules the way PEFT does (an entry matches a module whose name ends with it, so
  // GPT-2's "c_proj" means both output projections; "all-linear" means every target), and our
  // own target names. InputError naming the file and key on a missing, misshaped or unexpected
  // tensor, an unknown module, a bad r / lora_alpha, or use_rslora / use_dora.
  static LoraAdapters load(const std::filesystem::path& dir, const ModelConfig& model);
  static bool present(const std::filesystem::path& dir);

 private:
  struct Adapter {
    LoraSite site;
    int layer;
    int col0, out, in;   // the column slice [col0, col0+out) of the site's output, input width
    std::string module;  // HF module name, e.g. "model.layers.0.self_attn.q_proj"
    std::string a_name, b_name;
  };
  ModelConfig model_;
  LoraConfig cfg_;
  std::vector<Adapter> adapters_;
  ParamArena params_, grads_;
};

// Parses "attn_q,attn_v" (also accepts HF module names q_proj, k_proj, v_proj, o_proj, gate_proj,
// up_proj, down_proj, c_attn, c_proj, c_fc). UsageError on unknown names.
std::vector<std::string> parse_lora_targets(const std::string& list, const ModelConfig& model);

}  // namespace lmforge
