// The kernel seam: the one interface the model, LoRA, the optimizer, the loss heads and inference
// call (never lmforge::cpu directly). Same names, shapes and conventions as kernels.h and
// kernels_infer.h; each op dispatches on
//   - the process's matmul precision (backend::precision(): fp32, or bf16 inputs with fp32
//     accumulation) for every matmul: linear_forward/backward, gemm, the decode kernels;
//   - the active instruction set (backend::active_isa()), inside the CPU kernels;
// and, with LMFORGE_PROFILE=1, times itself (per op, printed to stderr at exit).
// A GPU backend plugs in here: the callers already hold only buffers and shapes.
#pragma once
#include "lmforge/backend/bf16.h"
#include "lmforge/backend/isa.h"
#include "lmforge/backend/kernels.h"
#include "lmforge/backend/kernels_infer.h"

namespace lmforge::ops {

LMFORGE_KERNELS(float)
LMFORGE_INFER_KERNELS(float)

// C(M,N) = alpha·op(A)·op(B) + beta·C, row-major fp32 buffers, at the process's precision.
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc);

// linear_rows_forward on a bf16 copy of the weight (kernels_infer.h): decode at --precision bf16.
void linear_rows_forward_bf16(float* out, const float* inp, const bf16_t* weight, const float* bias,
                              int N, int IC, int OC);

// Inference weights packed once into the fp32 GEMM's layout (kernels_infer.h): where available,
// batched decode steps stop repacking weights on every call.
bool packed_linear_available();
size_t packed_weight_floats(int IC, int OC);
void pack_weight(float* dst, const float* W, int IC, int OC);
void linear_packed_forward(float* out, const float* inp, const float* packed, const float* bias,
                           int N, int IC, int OC);

// Per-op wall time (LMFORGE_PROFILE=1): a label for the ops that follow (e.g. "qkv" makes the
// next linear_forward count as "linear_forward:qkv"); cleared by the next label. Off: one branch.
void profile_label(const char* label);
bool profiling();

}  // namespace lmforge::ops
