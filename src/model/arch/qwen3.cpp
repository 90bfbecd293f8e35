// The Qwen3 family spec (model/arch.h; dense, text only: Qwen3ForCausalLM): the Llama block
// (RoPE rotate-half, RMSNorm, SwiGLU, grouped-query attention) plus a per-head RMSNorm of q and
// k (self_attn.q_norm / k_norm, (HS) each) after the projection and before RoPE, no biases by
// default, and a head_dim that need not be C/NH (transformers' Qwen3Config defaults it to 128).
// GGUF: llama.cpp's "qwen3" arch, whose RoPE is rotate-half (NEOX), so no row permutation.
// Not here: sliding-window layers (refused), MoE (Qwen3MoeForCausalLM is another family).
#include "hf_json.h"
#include "lmforge/core/error.h"
#include "lmforge/model/arch.h"

namespace lmforge {
namespace {

using json = nlohmann::json;
using R = TensorRole;

void from_hf(ModelConfig& c, const json& j, const std::string& file, const std::string&) {
  using namespace hf;
  read_rope_family(c, j, file);
  c.head_dim = get_int(j, "head_dim", file, 128, false);  // Qwen3Config's default
  c.attn_bias = get_bool(j, "attention_bias", file, false);
  c.attn_out_bias = true;
  c.mlp_bias = false;
  if (j.contains("use_sliding_window"))
    refuse_if(j, "use_sliding_window", file, get_bool(j, "use_sliding_window", file, false),
              "sliding-window attention is not supported");
}

json to_hf(const ModelConfig& c) {
  json j = hf::write_rope_family(c);
  j["architectures"] = {"Qwen3ForCausalLM"};
  j["model_type"] = "qwen3";
  j["head_dim"] = c.head_dim;
  j["attention_bias"] = c.attn_bias;
  j["use_sliding_window"] = false;
  return j;
}

// Qwen3-0.6B's shape ratios at toy size: HS = 64 != C/NH = 32, GQA 2:1, tied head, theta 1e6.
ModelConfig qwen3(int vocab_size, int L, int H, int KV, int C, int HS, int FF, int ctx) {
  ModelConfig c;
  c.arch = "qwen3";
  c.vocab_size = vocab_size;
  c.n_layer = L;
  c.n_head = H;
  c.n_kv_head = KV;
  c.n_embd = C;
  c.head_dim = HS;
  c.ffn_hidden = FF;
  c.n_ctx = ctx;
  c.norm_eps = 1e-6f;
  c.rope_theta = 1000000.0f;
  c.tie_embeddings = true;
  c.attn_bias = c.mlp_bias = false;
  return c;
}

}  // namespace

const ArchSpec& qwen3_spec() {
  static const ArchSpec s = {
      "qwen3",
      {NormKind::kRMSNorm, MlpKind::kSwiGLU, PosKind::kRoPE, true},
      {{"qwen3", "Qwen3ForCausalLM"}},
      from_hf,
      to_hf,
      "model.layers.",
      {
          {R::kEmbed, "model.embed_tokens.weight", "token_embd.weight"},
          {R::kNorm1W, "input_layernorm.weight", "attn_norm.weight"},
          {R::kQW, "self_attn.q_proj.weight", "attn_q.weight"},
          {R::kKW, "self_attn.k_proj.weight", "attn_k.weight"},
          {R::kVW, "self_attn.v_proj.weight", "attn_v.weight"},
          {R::kQB, "self_attn.q_proj.bias", "attn_q.bias"},
          {R::kKB, "self_attn.k_proj.bias", "attn_k.bias"},
          {R::kVB, "self_attn.v_proj.bias", "attn_v.bias"},
          {R::kOW, "self_attn.o_proj.weight", "attn_output.weight"},
          {R::kOB, "self_attn.o_proj.bias", "attn_output.bias"},
          {R::kQNormW, "self_attn.q_norm.weight", "attn_q_norm.weight"},
          {R::kKNormW, "self_attn.k_norm.weight", "attn_k_norm.weight"},
          {R::kNorm2W, "post_attention_layernorm.weight", "ffn_norm.weight"},
          {R::kGateW, "mlp.gate_proj.weight", "ffn_gate.weight"},
          {R::kUpW, "mlp.up_proj.weight", "ffn_up.weight"},
          {R::kDownW, "mlp.down_proj.weight", "ffn_down.weight"},
          {R::kNormFW, "model.norm.weight", "output_norm.weight"},
          {R::kHead, "lm_head.weight", "output.weight"},
      },
      "qwen3",
      {{"qwen3-tiny", [](int v) { return qwen3(v, 4, 4, 2, 128, 64, 344, 128); }}},
      {{"attn_q", "self_attn.q_proj", R::kQW},
       {"attn_k", "self_attn.k_proj", R::kKW},
       {"attn_v", "self_attn.v_proj", R::kVW},
       {"attn_o", "self_attn.o_proj", R::kOW},
       {"ffn_gate", "mlp.gate_proj", R::kGateW},
       {"ffn_up", "mlp.up_proj", R::kUpW},
       {"ffn_down", "mlp.down_proj", R::kDownW}},
      "attn_q,attn_v",
      true,
  };
  return s;
}

}  // namespace lmforge
