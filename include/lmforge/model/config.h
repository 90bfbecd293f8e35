// ModelConfig: the hyper-parameters of one transformer, for both families lmforge trains —
// "gpt2" (learned positions, LayerNorm, tanh-GELU, biases) and "llama" (RoPE, RMSNorm, SwiGLU,
// grouped-query attention) — with conversion to and from Hugging Face config.json, and the named
// presets of `lmforge pretrain --preset`. Not here: weights (model/transformer.h).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace lmforge {

struct ModelConfig {
  std::string arch = "gpt2";  // "gpt2" | "llama"
  int vocab_size = 0;         // V
  int n_ctx = 0;              // maximum positions (T ≤ n_ctx)
  int n_layer = 0;            // L
  int n_head = 0;             // NH
  int n_kv_head = 0;          // NKV (= NH for GPT-2)
  int n_embd = 0;             // C
  int head_dim = 0;           // HS (C / NH unless a Llama checkpoint says otherwise)
  int ffn_hidden = 0;         // FF (GPT-2: 4C; Llama: intermediate_size)
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  bool tie_embeddings = true;
  bool attn_bias = true;  // biases on q, k, v and the attention output projection
  bool mlp_bias = true;   // biases on the MLP projections
  // Qwen2 has biases on q, k and v but not on o_proj: the o_proj bias then exists in the arena
  // (attn_bias) but not on disk, where it is zero. False only for such checkpoints.
  bool attn_out_bias = true;
  // The HF family a Llama-architecture checkpoint was read as: "llama", "qwen2" or "mistral"
  // (same math; written back under the same model_type). Empty for GPT-2.
  std::string hf_family;
  int bos_token_id = -1;  // -1: unknown (written as null)
  int eos_token_id = -1;

  bool is_llama() const { return arch == "llama"; }
  int qkv_dim() const { return (n_head + 2 * n_kv_head) * head_dim; }  // QKV
  int attn_dim() const { return n_head * head_dim; }                   // NH·HS

  // Reads a HF config.json: GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM (q/k/v biases),
  // MistralForCausalLM without a sliding window. Throws InputError(file, 0, key, ...) naming a
  // missing or ill-typed key or an unsupported feature (rope_scaling other than "default", a
  // sliding window, another architecture).
  static ModelConfig from_hf_json(const nlohmann::json& j, const std::string& file);
  nlohmann::json to_hf_json() const;
  // "tiny", "small", "gpt2-124m", "llama-tiny", "llama-small"; UsageError listing them otherwise.
  static ModelConfig preset(const std::string& name, int vocab_size);
  static const char* preset_names();  // "tiny, small, ..." for help texts

  // Total trainable parameters (a tied head counted once).
  int64_t num_params() const;
  // UsageError on inconsistent values (non-positive sizes, NH not divisible by NKV, ...).
  void validate() const;
};

}  // namespace lmforge
