// The one transformer forward (and the training backward) over the kernel seam, shared by
// Transformer and InferenceModel (see block.h). One code path for every family; the differences
// are switches on the features (ArchFeatures, model/config.h) and flags of the config, never on
// the family name:
//   positions: learned table (GPT-2) | RoPE on q and k (Llama, Qwen3)
//   norm:      LayerNorm with bias   | RMSNorm
//   MLP:       c_fc → GELU → c_proj  | [gate|up] → SwiGLU → down
//   qk_norm:   RMSNorm over each q and k head, after the q/k/v projection, before RoPE (Qwen3)
//   biases:    attn_bias / mlp_bias
// Tensors are found by role through the family's spec (model/arch.h), never by name here.
#include "lmforge/model/block.h"

#include <algorithm>
#include <string>

#include "lmforge/backend/ops.h"
#include "lmforge/model/arch.h"

namespace lmforge {

std::string layer_prefix(const ModelConfig& cfg, int l) {
  return cfg.spec().hf_layer_prefix + std::to_string(l) + ".";
}

namespace {

// Both resolve_* share this: Arena is `const ParamArena` or `ParamArena`.
template <class F, class Arena>
ModelTensors<F> resolve(Arena& a, const ModelConfig& cfg) {
  using R = TensorRole;
  auto get = [&](R r, int l) -> F* {
    return has_tensor(cfg, r) ? a.get(tensor_name(cfg, r, l)) : nullptr;
  };
  // A packed matrix starts at its first tensor: q of q|k|v (unless the family stores it packed),
  // gate of SwiGLU's gate|up.
  auto first = [&](R packed, R head, int l) {
    return has_tensor(cfg, packed) ? get(packed, l) : get(head, l);
  };
  const bool swiglu = cfg.features().swiglu();
  ModelTensors<F> m{};
  m.wte = get(R::kEmbed, 0);
  m.wpe = get(R::kPosEmbed, 0);
  m.normf_w = get(R::kNormFW, 0);
  m.normf_b = get(R::kNormFB, 0);
  m.lm_head = cfg.tie_embeddings ? m.wte : get(R::kHead, 0);
  for (int l = 0; l < cfg.n_layer; ++l) {
    BlockTensors<F> L{};
    L.norm1_w = get(R::kNorm1W, l);
    L.norm1_b = get(R::kNorm1B, l);
    L.qkv_w = first(R::kQKVW, R::kQW, l);  // the packed (QKV, C) matrix
    L.qkv_b = first(R::kQKVB, R::kQB, l);
    L.o_w = get(R::kOW, l);
    L.o_b = get(R::kOB, l);
    L.q_norm = get(R::kQNormW, l);
    L.k_norm = get(R::kKNormW, l);
    L.norm2_w = get(R::kNorm2W, l);
    L.norm2_b = get(R::kNorm2B, l);
    L.up_w = get(swiglu ? R::kGateW : R::kUpW, l);  // SwiGLU: the packed (2FF, C) matrix
    L.up_b = get(swiglu ? R::kGateB : R::kUpB, l);
    L.down_w = get(R::kDownW, l);
    L.down_b = get(R::kDownB, l);
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
  if (cfg.features().rms())
    ops::rmsnorm_forward(out, rstd, inp, w, N, cfg.n_embd, cfg.norm_eps);
  else
    ops::layernorm_forward(out, mean, rstd, inp, w, b, N, cfg.n_embd, cfg.norm_eps);
}

void norm_backward(const ModelConfig& cfg, float* dinp, float* dw, float* db, const float* dout,
                   const float* inp, const float* w, const float* mean, const float* rstd, int N) {
  if (cfg.features().rms())
    ops::rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, cfg.n_embd);
  else
    ops::layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, cfg.n_embd);
}

int up_width(const ModelConfig& cfg) {
  return cfg.features().up_factor() * cfg.ffn_hidden;
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
  const int NH = cfg.n_head, NKV = cfg.n_kv_head, HS = cfg.head_dim;
  const ArchFeatures& f = cfg.features();
  ops::profile_label("attn");
  norm_forward(cfg, a.ln1, a.ln1_mean, a.ln1_rstd, x, w.norm1_w, w.norm1_b, N);  // (N,C)
  block_linear(run, lora, a.qkv, a.ln1, w.qkv_w, w.qkv_b, N, C, QKV, layer,
               LinearSite::kQKV);  // (N,QKV)
  if (f.qk_norm)  // per-head RMSNorm of q and k (saves its input for backward when asked)
    ops::qk_norm_forward(a.qkv, a.qk_inp, a.qk_rstd, w.q_norm, w.k_norm, N, NH, NKV, HS,
                         cfg.norm_eps);
  if (f.rope()) ops::rope_forward(a.qkv, r.B, r.T, NH, NKV, HS, cfg.rope_theta, 0, r.pos);
  run.attend(a.att, a.lse, a.qkv, r, layer);                                          // (N,A)
  block_linear(run, lora, a.h, a.att, w.o_w, w.o_b, N, A, C, layer, LinearSite::kO);  // (N,C)
  ops::add_inplace(a.h, x, size_t(N) * C);                                            // residual
  ops::profile_label("mlp");
  norm_forward(cfg, a.ln2, a.ln2_mean, a.ln2_rstd, a.h, w.norm2_w, w.norm2_b, N);  // (N,C)
  block_linear(run, lora, a.fc, a.ln2, w.up_w, w.up_b, N, C, UP, layer,
               LinearSite::kUp);  // (N,UP); SwiGLU: [gate|up]
  if (f.swiglu())
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
  const ArchFeatures& f = cfg.features();
  ops::profile_label("mlp");
  ops::linear_backward(s.dact, g.down_w, g.down_b, dres, a.act, w.down_w, N, FF,
                       C);  // dact (N,FF)
  if (lora) lora->backward(LoraSite::kDown, layer, s.dact, dres, a.act, N);
  if (f.swiglu())
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
  if (f.rope()) ops::rope_backward(s.dqkv, r.B, r.T, NH, NKV, HS, cfg.rope_theta, 0, r.pos);
  if (f.qk_norm)  // dqkv's q/k parts: d loss / d the heads before their norm
    ops::qk_norm_backward(s.dqkv, g.q_norm, g.k_norm, a.qk_inp, w.q_norm, w.k_norm, a.qk_rstd, N,
                          NH, NKV, HS);
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
