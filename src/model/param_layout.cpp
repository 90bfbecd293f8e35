// The parameter list of both families (see param_layout.h). Arena order matters: q, k, v weights
// (and biases) are added back to back so that together they are the (QKV, C) matrix of one linear
// call; likewise gate and up form (2FF, C).
#include "lmforge/model/param_layout.h"

#include "lmforge/model/transformer.h"

namespace lmforge {

void for_each_param(
    const ModelConfig& cfg,
    const std::function<bool(const std::string&, const std::vector<int64_t>&)>& fn) {
  const int64_t C = cfg.n_embd, V = cfg.vocab_size, FF = cfg.ffn_hidden;
  const int64_t HS = cfg.head_dim, Q = cfg.n_head * HS, KV = cfg.n_kv_head * HS;
  bool go = true;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    if (go) go = fn(name, shape);
  };
  if (!cfg.is_llama()) {
    add("transformer.wte.weight", {V, C});
    add("transformer.wpe.weight", {cfg.n_ctx, C});
    for (int l = 0; l < cfg.n_layer && go; ++l) {
      const std::string p = layer_prefix(cfg, l);
      add(p + "ln_1.weight", {C});
      add(p + "ln_1.bias", {C});
      add(p + "attn.c_attn.weight", {Q + 2 * KV, C});
      add(p + "attn.c_attn.bias", {Q + 2 * KV});
      add(p + "attn.c_proj.weight", {C, Q});
      add(p + "attn.c_proj.bias", {C});
      add(p + "ln_2.weight", {C});
      add(p + "ln_2.bias", {C});
      add(p + "mlp.c_fc.weight", {FF, C});
      add(p + "mlp.c_fc.bias", {FF});
      add(p + "mlp.c_proj.weight", {C, FF});
      add(p + "mlp.c_proj.bias", {C});
    }
    add("transformer.ln_f.weight", {C});
    add("transformer.ln_f.bias", {C});
  } else {
    add("model.embed_tokens.weight", {V, C});
    for (int l = 0; l < cfg.n_layer && go; ++l) {
      const std::string p = layer_prefix(cfg, l);
      add(p + "input_layernorm.weight", {C});
      add(p + "self_attn.q_proj.weight", {Q, C});
      add(p + "self_attn.k_proj.weight", {KV, C});
      add(p + "self_attn.v_proj.weight", {KV, C});
      if (cfg.attn_bias) {
        add(p + "self_attn.q_proj.bias", {Q});
        add(p + "self_attn.k_proj.bias", {KV});
        add(p + "self_attn.v_proj.bias", {KV});
      }
      add(p + "self_attn.o_proj.weight", {C, Q});
      if (cfg.attn_bias) add(p + "self_attn.o_proj.bias", {C});
      add(p + "post_attention_layernorm.weight", {C});
      add(p + "mlp.gate_proj.weight", {FF, C});
      add(p + "mlp.up_proj.weight", {FF, C});
      if (cfg.mlp_bias) {
        add(p + "mlp.gate_proj.bias", {FF});
        add(p + "mlp.up_proj.bias", {FF});
      }
      add(p + "mlp.down_proj.weight", {C, FF});
      if (cfg.mlp_bias) add(p + "mlp.down_proj.bias", {C});
    }
    add("model.norm.weight", {C});
  }
  if (!cfg.tie_embeddings) add("lm_head.weight", {V, C});
}

}  // namespace lmforge
