// When a CPU kernel is worth an OpenMP parallel region. Waking the other threads costs a few
// microseconds with a short spin and tens with the passive wait policy (src/cli/main.cpp), which is
// more than a norm, activation or embedding of one decode row takes (a few hundred floats). Below
// this many floats of work a kernel runs on the calling thread. Per-row and elementwise kernels
// compute the same values either way, so results do not depend on it.
// Measured: 34 tiny AdamW tensors per step (docs/PERF_NOTES.md), and decode steps, where norms,
// GELU and the embedding of one row were each a parallel region (bench/infer_bench).
#pragma once
#include <cstddef>

namespace lmforge::cpu {
constexpr size_t kMinParallelWork = size_t(1) << 15;
}  // namespace lmforge::cpu
