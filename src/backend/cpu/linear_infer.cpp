// Few-row linear for decode steps (GEMV-like): out (N,OC) = inp (N,IC)·weightᵀ + bias, for the N
// active sequences of a decode step. Decode is bound by reading the weights, so each weight row
// must come from memory once per step whatever N is: threads split the output features; a
// thread takes a few weight rows at a time and, while they sit in L1, dots them with every input
// row, several input rows per pass (linear_rows_driver.h, shared with the bf16-weight kernel).
// One horizontal sum per (input row, feature) at the end. AVX2 + FMA: the x86-64-v3 baseline.
// The packed GEMM (cpu/linear.cpp) takes over when N is large enough for its packing to pay
// (the engine switches at kRowsGemv, infer/engine.cpp).
#include <cstddef>

#include "linear_rows_driver.h"
#include "lmforge/backend/kernels_infer.h"

namespace lmforge::cpu {

// RO weight rows per block, RN input rows per pass (the register budget: linear_rows_driver.h).
// One row (a single-stream step) is pure streaming: 8 weight rows a block, 9 registers, each
// weight vector used once. More rows: 4 weight × 2 input rows, 14 registers, 6 loads per 8 FMAs.
// Measured with bench/infer_bench ("small", 2 threads): one stream ~400 -> ~500 tokens/s going
// from 4 to 8 weight rows; 8 streams 795 (packed GEMM) -> ~1,550 tokens/s.
void linear_rows_forward(float* out, const float* inp, const float* weight, const float* bias,
                         int N, int IC, int OC) {
  if (N == 1)
    linear_rows<DotAvx2, 8, 1>(out, inp, IC, nullptr, weight, bias, N, IC, OC);
  else
    linear_rows<DotAvx2, 4, 2>(out, inp, IC, nullptr, weight, bias, N, IC, OC);
}

}  // namespace lmforge::cpu
