// Transformer forward and backward over the kernel seam (include/lmforge/backend/ops.h).
// One code path for both families; the differences are four switches on the config:
//   positions: learned table (GPT-2) | RoPE on q and k (Llama)
//   norm:      LayerNorm with bias   | RMSNorm
//   MLP:       c_fc → GELU → c_proj  | [gate|up] → SwiGLU → down
//   biases:    attn_bias / mlp_bias
// Shapes (docs/SHAPES.md): N = B·T rows, C channels, QKV = (NH+2·NKV)·HS, A = NH·HS,
// UP = FF (GPT-2) or 2·FF (Llama), V vocabulary. Not here: file I/O (transformer_io.cpp).
#include "lmforge/model/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lmforge/backend/ops.h"
#include "lmforge/core/error.h"
#include "lmforge/core/rng.h"
#include "lmforge/model/param_layout.h"

namespace lmforge {

std::string layer_prefix(const ModelConfig& cfg, int l) {
  return (cfg.is_llama() ? "model.layers." : "transformer.h.") + std::to_string(l) + ".";
}

Transformer::~Transformer() = default;

Transformer::Transformer(const ModelConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  build_layout();
  params_.finalize();
  grads_ = params_.clone_layout();
  p_ = resolve(params_);
  g_ = resolve(grads_);
}

// The tensor list is for_each_param's (model/param_layout.h), shared with the checks that run
// before allocation.
void Transformer::build_layout() {
  ParamArena& a = params_;
  for_each_param(cfg_, [&](const std::string& name, const std::vector<int64_t>& shape) {
    a.add(name, shape);
    return true;
  });
  check(int64_t(a.numel()) == cfg_.num_params(), "transformer",
        "layout has " + std::to_string(a.numel()) + " parameters, config says " +
            std::to_string(cfg_.num_params()));
}

Transformer::ModelPtrs Transformer::resolve(ParamArena& a) const {
  auto opt = [&](const std::string& n) { return a.has(n) ? a.get(n) : nullptr; };
  ModelPtrs m{};
  const bool llama = cfg_.is_llama();
  m.wte = a.get(llama ? "model.embed_tokens.weight" : "transformer.wte.weight");
  m.wpe = llama ? nullptr : a.get("transformer.wpe.weight");
  m.normf_w = a.get(llama ? "model.norm.weight" : "transformer.ln_f.weight");
  m.normf_b = llama ? nullptr : a.get("transformer.ln_f.bias");
  m.lm_head = cfg_.tie_embeddings ? m.wte : a.get("lm_head.weight");
  for (int l = 0; l < cfg_.n_layer; ++l) {
    const std::string p = layer_prefix(cfg_, l);
    LayerPtrs L{};
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

void Transformer::init_weights(uint64_t seed) {
  const float std_w = 0.02f;
  const float std_res = 0.02f / std::sqrt(2.0f * float(cfg_.n_layer));
  for (const TensorInfo& t : params_.entries()) {
    float* w = params_.get(t.name);
    const std::string& n = t.name;
    auto ends = [&](const char* s) {
      std::string_view sv(s);
      return n.size() >= sv.size() && n.compare(n.size() - sv.size(), sv.size(), sv) == 0;
    };
    if (t.shape.size() == 1) {
      // 1-D tensors are norm weights (ones) or biases (zeros).
      const bool norm_weight = ends("norm.weight") || ends("ln_1.weight") || ends("ln_2.weight") ||
                               ends("ln_f.weight") || ends("layernorm.weight");
      for (size_t i = 0; i < t.numel; ++i) w[i] = norm_weight ? 1.0f : 0.0f;
      continue;
    }
    const bool residual = ends("attn.c_proj.weight") || ends("mlp.c_proj.weight") ||
                          ends("o_proj.weight") || ends("down_proj.weight");
    const double s = residual ? std_res : std_w;
    Rng rng(seed_for(seed, n));
    for (size_t i = 0; i < t.numel; ++i) w[i] = float(s * rng.normal());
  }
}

bool Transformer::is_decayed(const std::string& param_name) const {
  return params_.info(param_name).shape.size() >= 2;
}

bool Transformer::stored_transposed(const std::string& n) const {
  if (cfg_.is_llama()) return false;
  auto ends = [&](std::string_view s) {
    return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
  };
  return ends("attn.c_attn.weight") || ends("attn.c_proj.weight") || ends("mlp.c_fc.weight") ||
         ends("mlp.c_proj.weight");
}

double Transformer::flops_per_token(int T) const {
  double n = double(cfg_.num_params());
  if (!cfg_.is_llama()) n -= double(cfg_.n_ctx) * cfg_.n_embd;           // position table: a lookup
  if (!cfg_.tie_embeddings) n -= double(cfg_.vocab_size) * cfg_.n_embd;  // input embedding
  return 6.0 * n + 12.0 * cfg_.n_layer * double(cfg_.attn_dim()) * T;
}

// ---- activations ------------------------------------------------------------------------------

namespace {
// Hands out consecutive sub-buffers of one allocation, each rounded up to 16 floats (64 bytes)
// so every activation starts on a cache line.
struct Carver {
  float* base;
  size_t used = 0;
  float* take(size_t n) {
    float* p = base ? base + used : nullptr;
    used += (n + 15) / 16 * 16;
    return p;
  }
};
}  // namespace

size_t Transformer::act_floats(size_t N) const {
  Carver c{nullptr};
  const size_t C = cfg_.n_embd, QKV = cfg_.qkv_dim(), A = cfg_.attn_dim(), FF = cfg_.ffn_hidden;
  const size_t UP = cfg_.is_llama() ? 2 * FF : FF, NH = cfg_.n_head, V = cfg_.vocab_size;
  for (int l = 0; l < cfg_.n_layer; ++l) {
    for (size_t n :
         {N * C, N * C, N, N, N * QKV, N * A, N * NH, N * C, N * C, N, N, N * UP, N * FF})
      c.take(n);
  }
  for (size_t n : {N * C, N * C, N, N, N * V, N}) c.take(n);
  for (size_t n : {N * C, N * C, N * QKV, N * A, N * UP, N * FF}) c.take(n);
  return c.used;
}

size_t Transformer::activation_bytes(int B, int T) const {
  return act_floats(size_t(B) * size_t(T)) * sizeof(float);
}

void Transformer::ensure_acts(int B, int T) {
  const size_t N = size_t(B) * size_t(T);
  if (N <= act_rows_) return;
  act_buf_.reset();  // free first: peak memory never holds two buffers
  act_buf_ = alloc_aligned_floats(act_floats(N));
  act_rows_ = N;
  Carver c{act_buf_.get()};
  const size_t C = cfg_.n_embd, QKV = cfg_.qkv_dim(), A = cfg_.attn_dim(), FF = cfg_.ffn_hidden;
  const size_t UP = cfg_.is_llama() ? 2 * FF : FF, NH = cfg_.n_head, V = cfg_.vocab_size;
  act_.layers.assign(cfg_.n_layer, LayerActs{});
  for (auto& L : act_.layers) {
    L.x = c.take(N * C);
    L.ln1 = c.take(N * C);
    L.ln1_mean = c.take(N);
    L.ln1_rstd = c.take(N);
    L.qkv = c.take(N * QKV);
    L.att = c.take(N * A);
    L.lse = c.take(N * NH);
    L.h = c.take(N * C);
    L.ln2 = c.take(N * C);
    L.ln2_mean = c.take(N);
    L.ln2_rstd = c.take(N);
    L.fc = c.take(N * UP);
    L.act = c.take(N * FF);
  }
  act_.x_out = c.take(N * C);
  act_.lnf = c.take(N * C);
  act_.lnf_mean = c.take(N);
  act_.lnf_rstd = c.take(N);
  act_.logits = c.take(N * V);
  act_.losses = c.take(N);
  act_.dres = c.take(N * C);
  act_.dln = c.take(N * C);
  act_.dqkv = c.take(N * QKV);
  act_.datt = c.take(N * A);
  act_.dfc = c.take(N * UP);
  act_.dact = c.take(N * FF);
}

// ---- forward ----------------------------------------------------------------------------------

void Transformer::run_forward(const int32_t* ids, int B, int T, const int32_t* pos, bool head) {
  check(B > 0 && T > 0, "transformer", "empty batch");
  check(T <= cfg_.n_ctx, "transformer",
        "sequence length " + std::to_string(T) + " exceeds the model's context " +
            std::to_string(cfg_.n_ctx));
  const int N = B * T, C = cfg_.n_embd, V = cfg_.vocab_size, FF = cfg_.ffn_hidden;
  const int NH = cfg_.n_head, NKV = cfg_.n_kv_head, HS = cfg_.head_dim;
  const int QKV = cfg_.qkv_dim(), A = cfg_.attn_dim();
  const bool llama = cfg_.is_llama();
  const float eps = cfg_.norm_eps;
  for (int i = 0; i < N; ++i)  // (message built only on failure: this loop runs every step)
    if (ids[i] < 0 || ids[i] >= V)
      throw RuntimeError("[transformer] token id " + std::to_string(ids[i]) +
                         " outside the vocabulary [0, " + std::to_string(V) + ")");
  ensure_acts(B, T);
  ids_.assign(ids, ids + N);
  if (pos) {
    // Packed rows: each row is documents back to back whose positions count 0, 1, 2, ...; checked
    // here once, since the embedding reads the position table before attention checks pos.
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t) {
        const int32_t p = pos[b * T + t];
        if (p != 0 && (t == 0 || p != pos[b * T + t - 1] + 1))
          throw RuntimeError("[transformer] pos[" + std::to_string(b) + "," + std::to_string(t) +
                             "] = " + std::to_string(p) +
                             ": positions must restart at 0 or continue the previous one + 1");
      }
    pos_.assign(pos, pos + N);
    pos = pos_.data();
  } else {
    pos_.clear();
  }
  B_ = B;
  T_ = T;

  ops::profile_label("embed");
  ops::embedding_forward(act_.layers.empty() ? act_.x_out : act_.layers[0].x, ids, p_.wte, p_.wpe,
                         B, T, C, pos);  // (B,T,C)
  for (int l = 0; l < cfg_.n_layer; ++l) {
    const LayerPtrs& w = p_.layers[l];
    LayerActs& a = act_.layers[l];
    float* x_next = l + 1 < cfg_.n_layer ? act_.layers[l + 1].x : act_.x_out;
    ops::profile_label("attn");
    if (llama)
      ops::rmsnorm_forward(a.ln1, a.ln1_rstd, a.x, w.norm1_w, N, C, eps);  // (B,T,C)
    else
      ops::layernorm_forward(a.ln1, a.ln1_mean, a.ln1_rstd, a.x, w.norm1_w, w.norm1_b, N, C, eps);
    ops::linear_forward(a.qkv, a.ln1, w.qkv_w, w.qkv_b, N, C, QKV);  // (B,T,QKV)
    if (lora_) lora_->forward(LoraSite::kQKV, l, a.qkv, a.ln1, N);
    if (llama) ops::rope_forward(a.qkv, B, T, NH, NKV, HS, cfg_.rope_theta, 0, pos);
    ops::attention_forward(a.att, a.lse, a.qkv, B, T, NH, NKV, HS, pos);  // (B,T,A), lse (B,NH,T)
    ops::linear_forward(a.h, a.att, w.o_w, w.o_b, N, A, C);               // (B,T,C)
    if (lora_) lora_->forward(LoraSite::kO, l, a.h, a.att, N);
    ops::add_inplace(a.h, a.x, size_t(N) * C);  // residual
    ops::profile_label("mlp");
    if (llama)
      ops::rmsnorm_forward(a.ln2, a.ln2_rstd, a.h, w.norm2_w, N, C, eps);  // (B,T,C)
    else
      ops::layernorm_forward(a.ln2, a.ln2_mean, a.ln2_rstd, a.h, w.norm2_w, w.norm2_b, N, C, eps);
    if (llama) {
      ops::linear_forward(a.fc, a.ln2, w.up_w, w.up_b, N, C, 2 * FF);  // (B,T,2FF) [gate|up]
      if (lora_) lora_->forward(LoraSite::kUp, l, a.fc, a.ln2, N);
      ops::swiglu_forward(a.act, a.fc, N, FF);  // (B,T,FF)
    } else {
      ops::linear_forward(a.fc, a.ln2, w.up_w, w.up_b, N, C, FF);  // (B,T,FF)
      if (lora_) lora_->forward(LoraSite::kUp, l, a.fc, a.ln2, N);
      ops::gelu_forward(a.act, a.fc, size_t(N) * FF);  // (B,T,FF)
    }
    ops::linear_forward(x_next, a.act, w.down_w, w.down_b, N, FF, C);  // (B,T,C)
    if (lora_) lora_->forward(LoraSite::kDown, l, x_next, a.act, N);
    ops::add_inplace(x_next, a.h, size_t(N) * C);  // residual
  }
  ops::profile_label("head");
  if (llama)
    ops::rmsnorm_forward(act_.lnf, act_.lnf_rstd, act_.x_out, p_.normf_w, N, C, eps);
  else
    ops::layernorm_forward(act_.lnf, act_.lnf_mean, act_.lnf_rstd, act_.x_out, p_.normf_w,
                           p_.normf_b, N, C, eps);
  if (!head) return;
  ops::linear_forward(act_.logits, act_.lnf, p_.lm_head, nullptr, N, C, V);  // (B,T,V)
}

const float* Transformer::forward_logits(const int32_t* ids, int B, int T, const int32_t* pos) {
  state_ = State::kNone;
  run_forward(ids, B, T, pos, /*head=*/true);
  state_ = State::kLogits;
  return act_.logits;
}

const float* Transformer::forward_hidden(const int32_t* ids, int B, int T, const int32_t* pos) {
  state_ = State::kNone;
  run_forward(ids, B, T, pos, /*head=*/false);
  state_ = State::kHidden;
  return act_.lnf;
}

float Transformer::forward(const int32_t* ids, const int32_t* targets, int B, int T,
                           const int32_t* pos) {
  check(targets != nullptr, "transformer", "forward() needs targets (use forward_logits)");
  state_ = State::kNone;
  const int N = B * T, V = cfg_.vocab_size;
  int64_t n = 0;
  for (int i = 0; i < N; ++i) {
    if (targets[i] >= V)
      throw RuntimeError("[transformer] target id " + std::to_string(targets[i]) +
                         " outside the vocabulary [0, " + std::to_string(V) + ")");
    n += targets[i] >= 0;
  }
  run_forward(ids, B, T, pos, /*head=*/true);
  targets_.assign(targets, targets + N);
  n_unmasked_ = n;
  // The fused kernel turns logits into dlogits of the mean loss in the same pass; backward()
  // rescales them only when a loss_scale other than 1 is asked for.
  const float dloss = n > 0 ? 1.0f / float(n) : 0.0f;
  ops::profile_label("loss");
  ops::cross_entropy_fused(act_.logits, act_.losses, targets, dloss, N, V);
  double sum = 0.0;
  for (int i = 0; i < N; ++i) sum += act_.losses[i];
  state_ = State::kLoss;
  return n > 0 ? float(sum / double(n)) : 0.0f;
}

// ---- backward ---------------------------------------------------------------------------------

void Transformer::zero_grad() {
  trainable_grads().zero();
}

void Transformer::backward(float loss_scale) {
  check(state_ == State::kLoss, "transformer", "backward() needs a forward() with targets first");
  float* dlogits = act_.logits;  // overwritten by cross_entropy_fused
  if (loss_scale != 1.0f)
    ops::scale_inplace(dlogits, loss_scale, size_t(B_) * T_ * cfg_.vocab_size);
  state_ = State::kLogits;
  backward_from(dlogits, nullptr);
}

void Transformer::backward_from(const float* dlogits, const float* dhidden) {
  check(state_ == State::kLogits || state_ == State::kHidden, "transformer",
        "backward_from() needs a forward first (and runs once per forward)");
  check(dlogits == nullptr || state_ == State::kLogits, "transformer",
        "dlogits given after forward_hidden(), which computed no logits");
  state_ = State::kNone;  // activations' gradients are consumed: a second backward would be wrong
  const int B = B_, T = T_, N = B * T, C = cfg_.n_embd, V = cfg_.vocab_size, FF = cfg_.ffn_hidden;
  const int NH = cfg_.n_head, NKV = cfg_.n_kv_head, HS = cfg_.head_dim;
  const int QKV = cfg_.qkv_dim(), A = cfg_.attn_dim();
  const bool llama = cfg_.is_llama();
  const int32_t* pos = pos_.empty() ? nullptr : pos_.data();
  ops::profile_label("head");
  if (dlogits)
    ops::linear_backward(act_.dln, g_.lm_head, nullptr, dlogits, act_.lnf, p_.lm_head, N, C,
                         V);  // dln (B,T,C)
  else
    std::fill(act_.dln, act_.dln + size_t(N) * C, 0.0f);
  if (dhidden) ops::add_inplace(act_.dln, dhidden, size_t(N) * C);
  std::fill(act_.dres, act_.dres + size_t(N) * C, 0.0f);  // norms accumulate into dinp
  if (llama)
    ops::rmsnorm_backward(act_.dres, g_.normf_w, act_.dln, act_.x_out, p_.normf_w, act_.lnf_rstd, N,
                          C);
  else
    ops::layernorm_backward(act_.dres, g_.normf_w, g_.normf_b, act_.dln, act_.x_out, p_.normf_w,
                            act_.lnf_mean, act_.lnf_rstd, N, C);

  // dres holds d loss / d x_{l+1}; the residual adds pass it through unchanged, so it flows
  // down the layers in one buffer while each branch's gradient is added to it by the norms.
  for (int l = cfg_.n_layer - 1; l >= 0; --l) {
    const LayerPtrs& w = p_.layers[l];
    const LayerPtrs& gw = g_.layers[l];
    const LayerActs& a = act_.layers[l];
    ops::profile_label("mlp");
    ops::linear_backward(act_.dact, gw.down_w, gw.down_b, act_.dres, a.act, w.down_w, N, FF,
                         C);  // dact (B,T,FF)
    if (lora_) lora_->backward(LoraSite::kDown, l, act_.dact, act_.dres, a.act, N);
    if (llama) {
      ops::swiglu_backward(act_.dfc, act_.dact, a.fc, N, FF);  // dfc (B,T,2FF)
      ops::linear_backward(act_.dln, gw.up_w, gw.up_b, act_.dfc, a.ln2, w.up_w, N, C, 2 * FF);
      if (lora_) lora_->backward(LoraSite::kUp, l, act_.dln, act_.dfc, a.ln2, N);
      ops::rmsnorm_backward(act_.dres, gw.norm2_w, act_.dln, a.h, w.norm2_w, a.ln2_rstd, N, C);
    } else {
      ops::gelu_backward(act_.dfc, a.fc, act_.dact, size_t(N) * FF);  // dfc (B,T,FF)
      ops::linear_backward(act_.dln, gw.up_w, gw.up_b, act_.dfc, a.ln2, w.up_w, N, C, FF);
      if (lora_) lora_->backward(LoraSite::kUp, l, act_.dln, act_.dfc, a.ln2, N);
      ops::layernorm_backward(act_.dres, gw.norm2_w, gw.norm2_b, act_.dln, a.h, w.norm2_w,
                              a.ln2_mean, a.ln2_rstd, N, C);
    }
    // dres is now d loss / d h.
    ops::profile_label("attn");
    ops::linear_backward(act_.datt, gw.o_w, gw.o_b, act_.dres, a.att, w.o_w, N, A,
                         C);  // datt (B,T,A)
    if (lora_) lora_->backward(LoraSite::kO, l, act_.datt, act_.dres, a.att, N);
    ops::attention_backward(act_.dqkv, act_.datt, a.qkv, a.att, a.lse, B, T, NH, NKV, HS,
                            pos);  // dqkv (B,T,QKV)
    if (llama) ops::rope_backward(act_.dqkv, B, T, NH, NKV, HS, cfg_.rope_theta, 0, pos);
    ops::linear_backward(act_.dln, gw.qkv_w, gw.qkv_b, act_.dqkv, a.ln1, w.qkv_w, N, C, QKV);
    if (lora_) lora_->backward(LoraSite::kQKV, l, act_.dln, act_.dqkv, a.ln1, N);
    if (llama)
      ops::rmsnorm_backward(act_.dres, gw.norm1_w, act_.dln, a.x, w.norm1_w, a.ln1_rstd, N, C);
    else
      ops::layernorm_backward(act_.dres, gw.norm1_w, gw.norm1_b, act_.dln, a.x, w.norm1_w,
                              a.ln1_mean, a.ln1_rstd, N, C);
    // dres is now d loss / d x_l.
  }
  ops::profile_label("embed");
  if (g_.wte) ops::embedding_backward(g_.wte, g_.wpe, act_.dres, ids_.data(), B, T, C, pos);
}

// ---- LoRA ----------------------------------------------------------------------------------

void Transformer::freeze_base() {
  grads_ = ParamArena();  // no gradient memory for frozen weights
  g_ = ModelPtrs{};
  g_.layers.assign(cfg_.n_layer, LayerPtrs{});  // all null: the kernels skip frozen gradients
}

void Transformer::enable_lora(const LoraConfig& cfg, uint64_t seed) {
  check(!lora_, "transformer", "LoRA adapters are already attached");
  lora_ = std::make_unique<LoraAdapters>(cfg_, cfg, seed);
  freeze_base();
}

void Transformer::load_lora(const std::filesystem::path& dir) {
  check(!lora_, "transformer", "LoRA adapters are already attached");
  lora_ = std::make_unique<LoraAdapters>(LoraAdapters::load(dir, cfg_));
  freeze_base();
}

void Transformer::merge_lora() {
  if (!lora_) return;
  lora_->merge_into(params_);
  lora_.reset();
  grads_ = params_.clone_layout();
  g_ = resolve(grads_);
}

}  // namespace lmforge
