// The one forward of the transformer, shared by training (Transformer) and inference
// (InferenceModel): the embedding, each block's list of kernel calls, and the final norm, written
// once. What differs between the two callers sits behind ForwardRunner: which kernel a matmul
// takes (training: the GEMM of the process precision; inference: packed, bf16 or few-row copies
// of the weights) and how attention sees keys and values (training: the causal attention over the
// batch, saving its log-sum-exp for backward; inference: keys and values written into each
// sequence's KV cache and read back from it). LoRA adapters are applied in both, unmerged.
// block_backward is the same list of calls in reverse (training only).
// Shapes (docs/SHAPES.md): N rows, C, QKV = (NH+2·NKV)·HS, A = NH·HS, UP = FF or 2·FF (SwiGLU).
// The model code branches on the family's features (ArchFeatures), never on its name.
// Not here: loss heads, optimizer, KV cache storage (infer/engine.h), activation allocation.
#pragma once
#include <cstdint>
#include <vector>

#include "lmforge/core/arena.h"
#include "lmforge/model/config.h"
#include "lmforge/model/lora.h"

namespace lmforge {

// Pointers into one arena (the parameters, or their gradients) for one block; null where the
// config has no such tensor (or, for gradients, where the weights are frozen). F is `const
// float` for reading and `float` for writing.
template <class F>
struct BlockTensors {
  F *norm1_w, *norm1_b, *qkv_w, *qkv_b, *o_w, *o_b, *q_norm, *k_norm, *norm2_w, *norm2_b, *up_w,
      *up_b, *down_w, *down_b;
};
template <class F>
struct ModelTensors {
  F *wte, *wpe, *normf_w, *normf_b, *lm_head;
  std::vector<BlockTensors<F>> layers;
};
using BlockParams = BlockTensors<const float>;
using ModelParams = ModelTensors<const float>;
using ModelGrads = ModelTensors<float>;

// The arena's tensors by role, named by the family's spec (model/arch.h). q|k|v rows are packed
// as one (QKV, C) matrix starting at q (and SwiGLU's gate|up as one (2FF, C) starting at gate);
// GPT-2's Conv1D weights are already (out, in) in the arena (see Transformer::stored_transposed).
ModelParams resolve_params(const ParamArena& a, const ModelConfig& cfg);
ModelGrads resolve_grads(ParamArena& a, const ModelConfig& cfg);
// The HF-name prefix of layer l ("transformer.h.3." / "model.layers.3.").
std::string layer_prefix(const ModelConfig& cfg, int l);

// The rows of one forward: N = B·T tokens. pos (N) gives each row's position (a packed row's
// position inside its own document, or a sequence's cache length + t when decoding); null means
// t within each of the B rows of length T.
struct ForwardRows {
  const int32_t* ids;
  const int32_t* pos;
  int B, T;
  int N() const { return B * T; }
};

// One block's activations for N rows. Training keeps one set per layer for backward; inference
// reuses one set for every layer (the two norms may then share buffers). mean is unused by
// RMSNorm; lse may be null when nothing will run backward. qk_inp (N,(NH+NKV)·HS) and qk_rstd
// (N,NH+NKV) are the q/k norm's saved input (features().qk_norm; null: nothing saved).
struct BlockActs {
  float *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *lse, *h, *ln2, *ln2_mean, *ln2_rstd, *fc, *act;
  float *qk_inp = nullptr, *qk_rstd = nullptr;
};
// The gradient scratch of one block (overwritten layer by layer in backward).
struct BlockScratch {
  float *dln, *dqkv, *datt, *dfc, *dact;
};

// Which linear of the model a matmul computes (the LoRA sites and the head).
enum class LinearSite { kQKV, kO, kUp, kDown, kHead };

class ForwardRunner {
 public:
  virtual ~ForwardRunner() = default;
  // out (N,OC) = inp (N,IC)·wᵀ + b, for the weight w of `site` in layer `layer` (-1: the head).
  virtual void linear(float* out, const float* inp, const float* w, const float* b, int N, int IC,
                      int OC, int layer, LinearSite site) = 0;
  // att (N,A) = causal attention of qkv's queries (N,QKV, positions already applied) over the
  // keys and values this runner keeps for layer `layer`; lse (N,NH) saved when non-null.
  virtual void attend(float* att, float* lse, const float* qkv, const ForwardRows& rows,
                      int layer) = 0;
};

// x (N,C) = wte[ids] (+ wpe[pos] for learned positions).
void embed_forward(const ModelConfig& cfg, const ModelParams& p, float* x, const ForwardRows& r);
// One block: x_next (N,C) = block(x). x_next may alias x (inference), not the activations.
void block_forward(const ModelConfig& cfg, const BlockParams& w, const LoraAdapters* lora,
                   int layer, const float* x, float* x_next, const BlockActs& a,
                   const ForwardRows& r, ForwardRunner& run);
// out (R,C) = the final norm of inp (R,C); mean (RMSNorm: unused) and rstd (R) saved.
void final_norm_forward(const ModelConfig& cfg, const ModelParams& p, float* out, float* mean,
                        float* rstd, const float* inp, int R);

// Backward of block_forward(x) with its saved activations a. On entry dres (N,C) holds d loss /
// d x_next; on return d loss / d x. Parameter gradients accumulate into g (null entries are
// skipped: frozen weights), the adapters' into lora.
void block_backward(const ModelConfig& cfg, const BlockParams& w, const BlockTensors<float>& g,
                    LoraAdapters* lora, int layer, const float* x, float* dres, const BlockActs& a,
                    const BlockScratch& s, const ForwardRows& r);
// dres (N,C) += d loss / d inp of the final norm given dout (N,C); gradients into g.
void final_norm_backward(const ModelConfig& cfg, const ModelParams& p, const ModelGrads& g,
                         float* dres, const float* dout, const float* inp, const float* mean,
                         const float* rstd, int N);

}  // namespace lmforge
