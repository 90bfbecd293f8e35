// The one transformer forward (and the training backward) over the kernel seam, shared by
// Transformer and InferenceModel (see block.h). One code path for both families; the
// differences are four switches on the config:
//   positions: learned table (GPT-2) | RoPE on q and k (Llama)
//   norm:      LayerNorm with bias   | RMSNorm
//   MLP:       c_fc → GELU → c_proj  | [gate|up] → SwiGLU → down
//   biases:    attn_bias / mlp_bias
#include "lmforge/model/block.h"

#include <algorithm>
#include <string>

#include "lmforge/backend/ops.h"

namespace lmforge {

std::string layer_prefix(const ModelConfig& cfg, int l) {
  return (cfg.is_llama() ? "model.layers." : "transformer.h.") + std::to_string(l) + ".";
}

namespace {

// Both resolve_* share this: Arena is `const ParamArena` or `ParamArena`.
template <class F, class Arena>
ModelTensors<F> resolve(Arena& a, const ModelConfig& cfg) {
  auto opt = [&](const std::string& n) -> F* { return a.has(n) ? a.get(n) : nullptr; };
  ModelTensors<F> m{};
  const bool llama = cfg.is_llama();
  m.wte = a.get(llama ? "model.embed_tokens.weight" : "transformer.wte.weight");
  m.wpe = llama ? nullptr : a.get("transformer.wpe.weight");
  m.normf_w = a.get(llama ? "model.norm.weight" : "transformer.ln_f.weight");
  m.normf_b = llama ? nullptr : a.get("transformer.ln_f.bias");
  m.lm_head = cfg.tie_embeddings ? m.wte : a.get("lm_head.weight");
  for (int l = 0; l < cfg.n_layer; ++l) {
    const std::string p = layer_prefix(cfg, l);
    BlockTensors<F> L{};
    if (!llama) {
      L.norm1_w = a.get(p + "ln_1.weight");
      L.norm1_b = a.get(p + "ln_1.bias");
      L.qkv_w = a.get(p + "attn.c_attn.weight");
      L.qkv_b = a.get(p + "attn.c_attn.bias");
      L.o_w = a.get(p + "attn.c_proj.weight");
      L.o_b = a.get(p + "attn.c_proj.bias");
      L.norm2_w = a.get(p + "ln_2.weight");
      L.norm2_b = a.get(p + "ln_2.bias");
      L.up_w = a.get(p + "mlp.c_fc.weight");
      L.up_b = a.get(p + "mlp.c_fc.bias");
      L.down_w = a.get(p + "mlp.c_proj.weight");
      L.down_b = a.get(p + "mlp.c_proj.bias");
    } else {
      L.norm1_w = a.get(p + "input_layernorm.weight");
      L.qkv_w = a.get(p + "self_attn.q_proj.weight");  // start of the packed (QKV, C) matrix
      L.qkv_b = opt(p + "self_attn.q_proj.bias");
      L.o_w = a.get(p + "self_attn.o_proj.weight");
      L.o_b = opt(p + "self_attn.o_proj.bias");
      L.norm2_w = a.get(p + "post_attention_layernorm.weight");
      L.up_w = a.get(p + "mlp.gate_proj.weight");  // start of the packed (2FF, C) matrix
      L.up_b = opt(p + "mlp.gate_proj.bias");
      L.down_w = a.get(p + "mlp.down_proj.weight");
      L.down_b = opt(p + "mlp.down_proj.bias");
    }
    m.layers.push_back(L);
  }
  return m;
}

LoraSite lora_site(LinearSite s) {
  switch (s) {
    case LinearSite::kQKV:
      return LoraSite::kQKV;
    case LinearSite::kO:
      return LoraSite::kO;
    case LinearSite::kUp:
      return LoraSite::kUp;
    default:
      return LoraSite::kDown;
  }
}

// A linear of the block through the runner, then its LoRA adapters (out += scaling·(inp·Aᵀ)·Bᵀ).
void block_linear(ForwardRunner& run, const LoraAdapters* lora, float* out, const float* inp,
                  const float* w, const float* b, int N, int IC, int OC, int layer,
                  LinearSite site) {
  run.linear(out, inp, w, b, N, IC, OC, layer, site);
  if (lora) lora->forward(lora_site(site), layer, out, inp, N);
}

void norm_forward(const ModelConfig& cfg, float* out, float* mean, float* rstd, const float* inp,
                  const float* w, const float* b, int N) {
  if (cfg.is_llama())
    ops::rmsnorm_forward(out, rstd, inp, w, N, cfg.n_embd, cfg.norm_eps);
  else
    ops::layernorm_forward(out, mean, rstd, inp, w, b, N, cfg.n_embd, cfg.norm_eps);
}

void norm_backward(const ModelConfig& cfg, float* dinp, float* dw, float* db, const float* dout,
                   const float* inp, const float* w, const float* mean, const float* rstd, int N) {
  if (cfg.is_llama())
    ops::rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, cfg.n_embd);
  else
    ops::layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, cfg.n_embd);
}

int up_width(const ModelConfig& cfg) {
  return cfg.is_llama() ? 2 * cfg.ffn_hidden : cfg.ffn_hidden;
}

}  // namespace

ModelParams resolve_params(const ParamArena& a, const ModelConfig& cfg) {
  return resolve<const float>(a, cfg);
}

ModelGrads resolve_grads(ParamArena& a, const ModelConfig& cfg) {
  return resolve<float>(a, cfg);
}

// ---- forward ----------------------------------------------------------------------------------

void embed_forward(const ModelConfig& cfg, const ModelParams& p, float* x, const ForwardRows& r) {
  ops::profile_label("embed");
  ops::embedding_forward(x, r.ids, p.wte, p.wpe, r.B, r.T, cfg.n_embd, r.pos);  // (N,C)
}

void block_forward(const ModelConfig& cfg, const BlockParams& w, const LoraAdapters* lora,
                   int layer, const float* x, float* x_next, const BlockActs& a,
                   const ForwardRows& r, ForwardRunner& run) {
  const int N = r.N(), C = cfg.n_embd, FF = cfg.ffn_hidden, QKV = cfg.qkv_dim();
  const int A = cfg.attn_dim(), UP = up_width(cfg);
  ops::profile_label("attn");
  norm_forward(cfg, a.ln1, a.ln1_mean, a.ln1_rstd, x, w.norm1_w, w.norm1_b, N);  // (N,C)
  block_linear(run, lora, a.qkv, a.ln1, w.qkv_w, w.qkv_b, N, C, QKV, layer,
               LinearSite::kQKV);  // (N,QKV)
  if (cfg.is_llama())
    ops::rope_forward(a.qkv, r.B, r.T, cfg.n_head, cfg.n_kv_head, cfg.head_dim, cfg.rope_theta, 0,
                      r.pos);
  run.attend(a.att, a.lse, a.qkv, r, layer);                                          // (N,A)
  block_linear(run, lora, a.h, a.att, w.o_w, w.o_b, N, A, C, layer, LinearSite::kO);  // (N,C)
  ops::add_inplace(a.h, x, size_t(N) * C);                                            // residual
  ops::profile_label("mlp");
  norm_forward(cfg, a.ln2, a.ln2_mean, a.ln2_rstd, a.h, w.norm2_w, w.norm2_b, N);  // (N,C)
  block_linear(run, lora, a.fc, a.ln2, w.up_w, w.up_b, N, C, UP, layer,
               LinearSite::kUp);  // (N,UP); SwiGLU: [gate|up]
  if (cfg.is_llama())
    ops::swiglu_forward(a.act, a.fc, N, FF);  // (N,FF)
  else
    ops::gelu_forward(a.act, a.fc, size_t(N) * FF);
  block_linear(run, lora, x_next, a.act, w.down_w, w.down_b, N, FF, C, layer,
               LinearSite::kDown);               // (N,C)
  ops::add_inplace(x_next, a.h, size_t(N) * C);  // residual
}

void final_norm_forward(const ModelConfig& cfg, const ModelParams& p, float* out, float* mean,
                        float* rstd, const float* inp, int R) {
  ops::profile_label("head");
  norm_forward(cfg, out, mean, rstd, inp, p.normf_w, p.normf_b, R);
}

// ---- backward ---------------------------------------------------------------------------------

// dres holds d loss / d x_next; the residual adds pass it through unchanged, so it flows down the
// layers in one buffer while each branch's gradient is added to it by the norms.
void block_backward(const ModelConfig& cfg, const BlockParams& w, const BlockTensors<float>& g,
                    LoraAdapters* lora, int layer, const float* x, float* dres, const BlockActs& a,
                    const BlockScratch& s, const ForwardRows& r) {
  const int N = r.N(), C = cfg.n_embd, FF = cfg.ffn_hidden, QKV = cfg.qkv_dim();
  const int A = cfg.attn_dim(), UP = up_width(cfg);
  const int NH = cfg.n_head, NKV = cfg.n_kv_head, HS = cfg.head_dim;
  ops::profile_label("mlp");
  ops::linear_backward(s.dact, g.down_w, g.down_b, dres, a.act, w.down_w, N, FF,
                       C);  // dact (N,FF)
  if (lora) lora->backward(LoraSite::kDown, layer, s.dact, dres, a.act, N);
  if (cfg.is_llama())
    ops::swiglu_backward(s.dfc, s.dact, a.fc, N, FF);  // dfc (N,2FF)
  else
    ops::gelu_backward(s.dfc, a.fc, s.dact, size_t(N) * FF);  // dfc (N,FF)
  ops::linear_backward(s.dln, g.up_w, g.up_b, s.dfc, a.ln2, w.up_w, N, C, UP);
  if (lora) lora->backward(LoraSite::kUp, layer, s.dln, s.dfc, a.ln2, N);
  norm_backward(cfg, dres, g.norm2_w, g.norm2_b, s.dln, a.h, w.norm2_w, a.ln2_mean, a.ln2_rstd, N);
  // dres is now d loss / d h.
  ops::profile_label("attn");
  ops::linear_backward(s.datt, g.o_w, g.o_b, dres, a.att, w.o_w, N, A, C);  // datt (N,A)
  if (lora) lora->backward(LoraSite::kO, layer, s.datt, dres, a.att, N);
  ops::attention_backward(s.dqkv, s.datt, a.qkv, a.att, a.lse, r.B, r.T, NH, NKV, HS,
                          r.pos);  // dqkv (N,QKV)
  if (cfg.is_llama()) ops::rope_backward(s.dqkv, r.B, r.T, NH, NKV, HS, cfg.rope_theta, 0, r.pos);
  ops::linear_backward(s.dln, g.qkv_w, g.qkv_b, s.dqkv, a.ln1, w.qkv_w, N, C, QKV);
  if (lora) lora->backward(LoraSite::kQKV, layer, s.dln, s.dqkv, a.ln1, N);
  norm_backward(cfg, dres, g.norm1_w, g.norm1_b, s.dln, x, w.norm1_w, a.ln1_mean, a.ln1_rstd, N);
  // dres is now d loss / d x.
}

void final_norm_backward(const ModelConfig& cfg, const ModelParams& p, const ModelGrads& g,
                         float* dres, const float* dout, const float* inp, const float* mean,
                         const float* rstd, int N) {
  ops::profile_label("head");
  norm_backward(cfg, dres, g.normf_w, g.normf_b, dout, inp, p.normf_w, mean, rstd, N);
}

}  // namespace lmforge
