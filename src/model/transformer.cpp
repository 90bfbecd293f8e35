// Transformer: the training side of the one forward (model/block.h): activations saved per
// layer for backward, the batch's causal attention, the LM head and the fused loss, and the
// backward as the forward's list in reverse. The block's kernel calls themselves live in
// block.cpp, shared with inference. Shapes (docs/SHAPES.md): N = B·T rows, C channels,
// QKV = (NH+2·NKV)·HS, A = NH·HS, UP = FF (GELU) or 2·FF (SwiGLU), V vocabulary.
// Not here: file I/O (transformer_io.cpp).
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
#include "lmforge/model/arch.h"
#include "lmforge/model/param_layout.h"

namespace lmforge {

Transformer::~Transformer() = default;

Transformer::Transformer(const ModelConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  build_layout();
  params_.finalize();
  grads_ = params_.clone_layout();
  p_ = resolve_params(params_, cfg_);
  g_ = resolve_grads(grads_, cfg_);
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

void Transformer::init_weights(uint64_t seed) {
  const float std_w = 0.02f;
  const float std_res = 0.02f / std::sqrt(2.0f * float(cfg_.n_layer));
  using R = TensorRole;
  for (const TensorInfo& t : params_.entries()) {
    float* w = params_.get(t.name);
    const std::string& n = t.name;
    int layer = -1;
    const TensorSpec* ts = find_tensor(cfg_, n, &layer);
    check(ts != nullptr, "transformer", "tensor '" + n + "' is not in the family's spec");
    const R r = ts->role;
    if (t.shape.size() == 1) {
      // 1-D tensors are norm weights (ones) or biases (zeros).
      const bool norm_weight = r == R::kNorm1W || r == R::kNorm2W || r == R::kNormFW ||
                               r == R::kQNormW || r == R::kKNormW;
      for (size_t i = 0; i < t.numel; ++i) w[i] = norm_weight ? 1.0f : 0.0f;
      continue;
    }
    const bool residual = r == R::kOW || r == R::kDownW;  // scaled by 1/sqrt(2L)
    const double s = residual ? std_res : std_w;
    Rng rng(seed_for(seed, n));
    for (size_t i = 0; i < t.numel; ++i) w[i] = float(s * rng.normal());
  }
}

bool Transformer::is_decayed(const std::string& param_name) const {
  return params_.info(param_name).shape.size() >= 2;
}

bool Transformer::stored_transposed(const std::string& n) const {
  int layer = -1;
  const TensorSpec* t = find_tensor(cfg_, n, &layer);
  return t && t->transposed;
}

double Transformer::flops_per_token(int T) const {
  double n = double(cfg_.num_params());
  if (!cfg_.features().rope()) n -= double(cfg_.n_ctx) * cfg_.n_embd;    // position table: a lookup
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
  const size_t UP = cfg_.features().up_factor() * FF, NH = cfg_.n_head, V = cfg_.vocab_size;
  const size_t QK = NH + cfg_.n_kv_head, HS = cfg_.head_dim;  // the q and k heads
  for (int l = 0; l < cfg_.n_layer; ++l) {
    for (size_t n :
         {N * C, N * C, N, N, N * QKV, N * A, N * NH, N * C, N * C, N, N, N * UP, N * FF})
      c.take(n);
    if (cfg_.features().qk_norm) {
      c.take(N * QK * HS);
      c.take(N * QK);
    }
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
  const size_t UP = cfg_.features().up_factor() * FF, NH = cfg_.n_head, V = cfg_.vocab_size;
  const size_t QK = NH + cfg_.n_kv_head, HS = cfg_.head_dim;
  act_.layers.assign(cfg_.n_layer, LayerActs{});
  for (auto& L : act_.layers) {
    L.x = c.take(N * C);
    BlockActs& a = L.acts;
    a.ln1 = c.take(N * C);
    a.ln1_mean = c.take(N);
    a.ln1_rstd = c.take(N);
    a.qkv = c.take(N * QKV);
    a.att = c.take(N * A);
    a.lse = c.take(N * NH);
    a.h = c.take(N * C);
    a.ln2 = c.take(N * C);
    a.ln2_mean = c.take(N);
    a.ln2_rstd = c.take(N);
    a.fc = c.take(N * UP);
    a.act = c.take(N * FF);
    if (cfg_.features().qk_norm) {
      a.qk_inp = c.take(N * QK * HS);
      a.qk_rstd = c.take(N * QK);
    }
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

namespace {
// Training's side of the one forward: every matmul through the GEMM of the process precision,
// attention causal over the batch's own rows, saving lse for backward.
class TrainRunner final : public ForwardRunner {
 public:
  explicit TrainRunner(const ModelConfig& cfg) : cfg_(cfg) {}
  void linear(float* out, const float* inp, const float* w, const float* b, int N, int IC, int OC,
              int, LinearSite) override {
    ops::linear_forward(out, inp, w, b, N, IC, OC);
  }
  void attend(float* att, float* lse, const float* qkv, const ForwardRows& r, int) override {
    ops::attention_forward(att, lse, qkv, r.B, r.T, cfg_.n_head, cfg_.n_kv_head, cfg_.head_dim,
                           r.pos);  // (B,T,A), lse (B,NH,T)
  }

 private:
  const ModelConfig& cfg_;
};
}  // namespace

void Transformer::run_forward(const int32_t* ids, int B, int T, const int32_t* pos, bool head) {
  check(B > 0 && T > 0, "transformer", "empty batch");
  check(T <= cfg_.n_ctx, "transformer",
        "sequence length " + std::to_string(T) + " exceeds the model's context " +
            std::to_string(cfg_.n_ctx));
  const int N = B * T, C = cfg_.n_embd, V = cfg_.vocab_size;
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

  const ForwardRows rows{ids, pos, B, T};
  TrainRunner run(cfg_);
  embed_forward(cfg_, p_, act_.layers.empty() ? act_.x_out : act_.layers[0].x, rows);  // (B,T,C)
  for (int l = 0; l < cfg_.n_layer; ++l) {
    float* x_next = l + 1 < cfg_.n_layer ? act_.layers[l + 1].x : act_.x_out;
    block_forward(cfg_, p_.layers[l], lora_.get(), l, act_.layers[l].x, x_next, act_.layers[l].acts,
                  rows, run);
  }
  final_norm_forward(cfg_, p_, act_.lnf, act_.lnf_mean, act_.lnf_rstd, act_.x_out, N);
  if (!head) return;
  run.linear(act_.logits, act_.lnf, p_.lm_head, nullptr, N, C, V, -1,
             LinearSite::kHead);  // (B,T,V)
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
  const int B = B_, T = T_, N = B * T, C = cfg_.n_embd, V = cfg_.vocab_size;
  const int32_t* pos = pos_.empty() ? nullptr : pos_.data();
  ops::profile_label("head");
  if (dlogits)
    ops::linear_backward(act_.dln, g_.lm_head, nullptr, dlogits, act_.lnf, p_.lm_head, N, C,
                         V);  // dln (B,T,C)
  else
    std::fill(act_.dln, act_.dln + size_t(N) * C, 0.0f);
  if (dhidden) ops::add_inplace(act_.dln, dhidden, size_t(N) * C);
  std::fill(act_.dres, act_.dres + size_t(N) * C, 0.0f);  // norms accumulate into dinp
  final_norm_backward(cfg_, p_, g_, act_.dres, act_.dln, act_.x_out, act_.lnf_mean, act_.lnf_rstd,
                      N);
  const ForwardRows rows{ids_.data(), pos, B, T};
  const BlockScratch scratch{act_.dln, act_.dqkv, act_.datt, act_.dfc, act_.dact};
  for (int l = cfg_.n_layer - 1; l >= 0; --l)
    block_backward(cfg_, p_.layers[l], g_.layers[l], lora_.get(), l, act_.layers[l].x, act_.dres,
                   act_.layers[l].acts, scratch, rows);  // dres: d loss / d x_l
  ops::profile_label("embed");
  if (g_.wte) ops::embedding_backward(g_.wte, g_.wpe, act_.dres, ids_.data(), B, T, C, pos);
}

// ---- LoRA ----------------------------------------------------------------------------------

void Transformer::freeze_base() {
  grads_ = ParamArena();  // no gradient memory for frozen weights
  g_ = ModelGrads{};
  g_.layers.assign(cfg_.n_layer,
                   BlockTensors<float>{});  // all null: the kernels skip frozen gradients
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
  g_ = resolve_grads(grads_, cfg_);
}

}  // namespace lmforge
