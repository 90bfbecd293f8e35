// The Llama family spec (model/arch.h): RoPE (rotate-half), RMSNorm, SwiGLU, grouped-query
// attention, optional biases. It reads three HF model types with the same math, remembered in
// ModelConfig::hf_family and written back as read: LlamaForCausalLM (attention_bias, mlp_bias),
// Qwen2ForCausalLM (q/k/v biases, never an o_proj bias: attn_out_bias = false) and
// MistralForCausalLM without a sliding window. GGUF: arch "llama", whose llama.cpp RoPE is
// interleaved, so q/k rows are permuted on export. Not here: the math (model/transformer.cpp).
#include "hf_json.h"
#include "lmforge/core/error.h"
#include "lmforge/model/arch.h"

namespace lmforge {
namespace {

using json = nlohmann::json;
using R = TensorRole;

void from_hf(ModelConfig& c, const json& j, const std::string& file, const std::string& family) {
  using namespace hf;
  read_rope_family(c, j, file);
  c.hf_family = family;
  if (family == "qwen2") {
    // Qwen2 always has q/k/v biases and never an o_proj bias; its config has no such key.
    c.attn_bias = true;
    c.attn_out_bias = false;
    c.mlp_bias = false;
    if (j.contains("use_sliding_window"))
      refuse_if(j, "use_sliding_window", file, get_bool(j, "use_sliding_window", file, false),
                "sliding-window attention is not supported");
  } else {
    c.attn_bias = get_bool(j, "attention_bias", file, false);
    c.mlp_bias = get_bool(j, "mlp_bias", file, false);
  }
  if (family == "mistral" && j.contains("sliding_window") && !j["sliding_window"].is_null()) {
    const int w = get_int(j, "sliding_window", file, 0, false);
    refuse_if(j, "sliding_window", file, w < c.n_ctx,
              "a sliding window shorter than max_position_embeddings is not supported");
  }
}

json to_hf(const ModelConfig& c) {
  json j = hf::write_rope_family(c);
  if (c.attn_bias && !c.attn_out_bias) {  // only Qwen2 has q/k/v biases without an o_proj one
    j["architectures"] = {"Qwen2ForCausalLM"};
    j["model_type"] = "qwen2";
    j["use_sliding_window"] = false;
    if (c.head_dim * c.n_head != c.n_embd) j["head_dim"] = c.head_dim;
    return j;
  }
  const bool mistral = c.hf_family == "mistral" && !c.attn_bias && !c.mlp_bias;
  j["architectures"] = {mistral ? "MistralForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = mistral ? "mistral" : "llama";
  j["head_dim"] = c.head_dim;
  j["attention_bias"] = c.attn_bias;
  j["mlp_bias"] = c.mlp_bias;
  if (mistral) j["sliding_window"] = nullptr;
  return j;
}

ModelConfig llama(int vocab_size, int L, int H, int KV, int C, int FF, int ctx) {
  ModelConfig c;
  c.arch = "llama";
  c.vocab_size = vocab_size;
  c.n_layer = L;
  c.n_head = H;
  c.n_kv_head = KV;
  c.n_embd = C;
  c.head_dim = C / H;
  c.ffn_hidden = FF;
  c.n_ctx = ctx;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.tie_embeddings = c.attn_bias = c.mlp_bias = false;
  return c;
}

}  // namespace

const ArchSpec& llama_spec() {
  static const ArchSpec s = {
      "llama",
      {NormKind::kRMSNorm, MlpKind::kSwiGLU, PosKind::kRoPE, false},
      {{"llama", "LlamaForCausalLM"},
       {"qwen2", "Qwen2ForCausalLM"},
       {"mistral", "MistralForCausalLM"}},
      from_hf,
      to_hf,
      "model.layers.",
      {
          {R::kEmbed, "model.embed_tokens.weight", "token_embd.weight"},
          {R::kNorm1W, "input_layernorm.weight", "attn_norm.weight"},
          {R::kQW, "self_attn.q_proj.weight", "attn_q.weight", false, true},
          {R::kKW, "self_attn.k_proj.weight", "attn_k.weight", false, true},
          {R::kVW, "self_attn.v_proj.weight", "attn_v.weight"},
          {R::kQB, "self_attn.q_proj.bias", "attn_q.bias", false, true},
          {R::kKB, "self_attn.k_proj.bias", "attn_k.bias", false, true},
          {R::kVB, "self_attn.v_proj.bias", "attn_v.bias"},
          {R::kOW, "self_attn.o_proj.weight", "attn_output.weight"},
          {R::kOB, "self_attn.o_proj.bias", "attn_output.bias"},
          {R::kNorm2W, "post_attention_layernorm.weight", "ffn_norm.weight"},
          {R::kGateW, "mlp.gate_proj.weight", "ffn_gate.weight"},
          {R::kUpW, "mlp.up_proj.weight", "ffn_up.weight"},
          {R::kGateB, "mlp.gate_proj.bias", "ffn_gate.bias"},
          {R::kUpB, "mlp.up_proj.bias", "ffn_up.bias"},
          {R::kDownW, "mlp.down_proj.weight", "ffn_down.weight"},
          {R::kDownB, "mlp.down_proj.bias", "ffn_down.bias"},
          {R::kNormFW, "model.norm.weight", "output_norm.weight"},
          {R::kHead, "lm_head.weight", "output.weight"},
      },
      "llama",
      {{"llama-tiny", [](int v) { return llama(v, 4, 4, 2, 128, 344, 128); }},
       {"llama-small", [](int v) { return llama(v, 6, 6, 2, 384, 1024, 256); }}},
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
