// Transformer: the GPT-2 and Llama families as one code path chosen by ModelConfig. Parameters
// and their gradients live in two ParamArenas with the same layout, named with Hugging Face's
// tensor names; activations saved for backward live in one aligned buffer sized for (B,T).
// forward() runs the one forward of model/block.h (shared with inference) and keeps each layer's
// activations; backward() is the same list of calls in reverse (llm.c style). Losses other than
// next-token cross-entropy plug in as loss heads: they take the logits (or the final hidden states)
// of forward_logits/forward_hidden and hand their gradient to backward_from(). With LoRA enabled
// the base weights are frozen (their gradient arena is released) and only the adapters train. Not
// here: optimizers, KV-cached generation (infer/), or any threading outside the kernels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lmforge/core/arena.h"
#include "lmforge/model/block.h"
#include "lmforge/model/config.h"
#include "lmforge/model/lora.h"

namespace lmforge {

class Transformer {
 public:
  // Allocates parameters and gradients (zeros). Throws UsageError on an invalid config.
  explicit Transformer(const ModelConfig& cfg);
  Transformer(Transformer&&) noexcept = default;
  Transformer& operator=(Transformer&&) noexcept = default;
  ~Transformer();

  // GPT-2 initialization: weights and embeddings ~ N(0, 0.02), residual output projections
  // (attention out, MLP down) ~ N(0, 0.02/sqrt(2L)), biases 0, norm weights 1. Each tensor draws
  // from its own stream (seed_for(seed, name)), so the result depends only on seed and layout.
  void init_weights(uint64_t seed);

  // Loads config.json + model.safetensors from a HF-style directory (F32/F16/BF16 weights).
  // InputError naming the file and tensor on a missing, misshaped or unexpected tensor.
  static Transformer load(const std::filesystem::path& model_dir);
  // Writes config.json, model.safetensors (F32, HF names and shapes) and generation_config.json
  // into an existing directory. Not atomic by itself: callers wrap it in write_dir_atomic.
  void save(const std::filesystem::path& dir) const;

  const ModelConfig& config() const { return cfg_; }
  ParamArena& params() { return params_; }
  const ParamArena& params() const { return params_; }
  ParamArena& grads() { return grads_; }
  const ParamArena& grads() const { return grads_; }

  // ids, targets: (B,T), T ≤ n_ctx. Targets < 0 are masked out of the loss. Returns the mean loss
  // over unmasked positions (0 when none). Keeps activations for backward(). pos (B,T), optional:
  // each token's position inside its own example for packed rows (attention never crosses an
  // example boundary; see kernels.h); null means one causal sequence per row.
  float forward(const int32_t* ids, const int32_t* targets, int B, int T,
                const int32_t* pos = nullptr);
  // Logits (B,T,V) without a loss; the pointer stays valid until the next forward call. Keeps
  // activations, so a loss head may follow with backward_from().
  const float* forward_logits(const int32_t* ids, int B, int T, const int32_t* pos = nullptr);
  // Final hidden states (B,T,C) after the last norm, without the LM head (reward and value
  // heads). Keeps activations for backward_from(nullptr, dhidden).
  const float* forward_hidden(const int32_t* ids, int B, int T, const int32_t* pos = nullptr);
  // The final hidden states (B,T,C) of the last forward, forward_logits or forward_hidden.
  const float* last_hidden() const { return act_.lnf; }
  // The logits buffer of the last forward_logits, writable so that a loss head can overwrite it
  // with dlogits in place (no second (B,T,V) buffer).
  float* logits_buffer() { return act_.logits; }
  // Per-position losses (B,T) of the last forward() (0 at masked positions).
  const float* last_losses() const { return act_.losses; }
  int64_t last_unmasked() const { return n_unmasked_; }

  // Zeroes the gradients of what trains (the adapters when LoRA is on).
  void zero_grad();
  // After forward(ids, targets): grads += d(mean loss · loss_scale)/dθ. Once per forward.
  void backward(float loss_scale = 1.0f);
  // After forward_logits (dlogits (B,T,V), may alias logits_buffer()) or forward_hidden (dlogits
  // null): grads += the parameter gradients for d loss/d logits = dlogits plus d loss/d hidden =
  // dhidden (B,T,C; may be null). Once per forward.
  void backward_from(const float* dlogits, const float* dhidden);

  // ---- LoRA ----
  // Adds fresh adapters and freezes the base weights (their gradients are released).
  void enable_lora(const LoraConfig& cfg, uint64_t seed);
  // Adds the adapters saved in dir (PEFT files) and freezes the base weights.
  void load_lora(const std::filesystem::path& dir);
  bool has_lora() const { return lora_ != nullptr; }
  const LoraAdapters* lora() const { return lora_.get(); }
  LoraAdapters* lora() { return lora_.get(); }
  // Folds the adapters into the base weights and removes them (gradients come back, zeroed).
  void merge_lora();
  // What the optimizer updates: the whole model, or only the adapters when LoRA is on.
  ParamArena& trainable_params() { return lora_ ? lora_->params() : params_; }
  ParamArena& trainable_grads() { return lora_ ? lora_->grads() : grads_; }

  // AdamW decays matrices and embeddings, not norm weights and biases (the 1-D tensors).
  bool is_decayed(const std::string& param_name) const;
  // Training FLOPs per token: 6·N + 12·L·(NH·HS)·T, where N counts the parameters used in
  // matmuls (all but the learned position table and an untied input embedding): the nanoGPT /
  // PaLM estimate the benchmarks' MFU uses.
  double flops_per_token(int T) const;
  // Bytes of the activation buffer forward/backward use at (B,T) (saved activations plus the
  // gradient scratch of one layer).
  size_t activation_bytes(int B, int T) const;

  // The HF file name and (file) shape for each arena entry; GPT-2 Conv1D weights are stored
  // transposed, (in, out). Used by save/load and the GGUF/HF exporters.
  bool stored_transposed(const std::string& param_name) const;

 private:
  // Layer l's input x (the residual stream) and its block's saved activations (model/block.h),
  // all views into act_buf_.
  struct LayerActs {
    float* x;
    BlockActs acts;
  };
  struct Acts {
    std::vector<LayerActs> layers;
    float *x_out, *lnf, *lnf_mean, *lnf_rstd, *logits, *losses;
    float *dres, *dln, *dqkv, *datt, *dfc, *dact;
  };
  enum class State { kNone, kHidden, kLogits, kLoss };

  void build_layout();
  void freeze_base();
  size_t act_floats(size_t N) const;  // size of the buffer for N = B·T rows
  void ensure_acts(int B, int T);
  void run_forward(const int32_t* ids, int B, int T, const int32_t* pos, bool head);

  ModelConfig cfg_;
  ParamArena params_, grads_;
  ModelParams p_;
  ModelGrads g_;
  AlignedFloats act_buf_;
  size_t act_rows_ = 0;  // N the buffer is laid out for
  Acts act_{};
  std::vector<int32_t> ids_, targets_, pos_;  // copies of the last batch, needed by backward
  std::unique_ptr<LoraAdapters> lora_;
  int B_ = 0, T_ = 0;
  int64_t n_unmasked_ = 0;
  State state_ = State::kNone;
};

}  // namespace lmforge
