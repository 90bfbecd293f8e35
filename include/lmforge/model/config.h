// ModelConfig: the hyper-parameters of one transformer of a registered family (model/arch.h:
// "gpt2", "llama" (also Qwen2/Mistral checkpoints), "qwen3"), with conversion to and from Hugging
// Face config.json and the named presets of `lmforge pretrain --preset`, both delegated to the
// family's spec. ArchFeatures are what the model code branches on. Not here: weights
// (model/transformer.h), family knowledge (src/model/arch/).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace lmforge {

struct ArchSpec;

enum class NormKind { kLayerNorm, kRMSNorm };  // LayerNorm has a bias; RMSNorm does not
enum class MlpKind { kGelu, kSwiGLU };   // c_fc → GELU(tanh) → c_proj | [gate|up] → SwiGLU
enum class PosKind { kLearned, kRoPE };  // position table | rotary on q and k (rotate-half)

// The math a family's block uses; the flags that vary within a family (biases, a tied head) are
// ModelConfig fields.
struct ArchFeatures {
  NormKind norm = NormKind::kLayerNorm;
  MlpKind mlp = MlpKind::kGelu;
  PosKind pos = PosKind::kLearned;
  bool qk_norm = false;  // RMSNorm over each q and k head (HS) after the projection, before RoPE
  bool rms() const { return norm == NormKind::kRMSNorm; }
  bool rope() const { return pos == PosKind::kRoPE; }
  bool swiglu() const { return mlp == MlpKind::kSwiGLU; }
  int up_factor() const { return swiglu() ? 2 : 1; }  // UP = up_factor·FF
};

struct ModelConfig {
  std::string arch = "gpt2";  // a registered family: arch_names() in model/arch.h
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
  // The HF model_type a checkpoint was read as when a spec reads several ("llama", "qwen2" or
  // "mistral" for the llama spec: same math, written back under the same model_type).
  std::string hf_family;
  int bos_token_id = -1;  // -1: unknown (written as null)
  int eos_token_id = -1;

  // The family's spec and features (UsageError for an unknown arch).
  const ArchSpec& spec() const;
  const ArchFeatures& features() const;
  int qkv_dim() const { return (n_head + 2 * n_kv_head) * head_dim; }  // QKV
  int attn_dim() const { return n_head * head_dim; }                   // NH·HS

  // Reads a HF config.json of a registered family (GPT2LMHeadModel, LlamaForCausalLM,
  // Qwen2ForCausalLM, MistralForCausalLM without a sliding window, Qwen3ForCausalLM). Throws
  // InputError(file, 0, key, ...) naming a missing or ill-typed key or an unsupported feature
  // (rope_scaling other than "default", a sliding window, another architecture).
  static ModelConfig from_hf_json(const nlohmann::json& j, const std::string& file);
  nlohmann::json to_hf_json() const;
  // Every spec's presets ("tiny", "llama-tiny", "qwen3-tiny", ...); UsageError listing them.
  static ModelConfig preset(const std::string& name, int vocab_size);
  static std::string preset_names();  // "tiny, small, ..." for help texts

  // Total trainable parameters (a tied head counted once).
  int64_t num_params() const;
  // UsageError on inconsistent values (non-positive sizes, NH not divisible by NKV, ...).
  void validate() const;
};

}  // namespace lmforge
