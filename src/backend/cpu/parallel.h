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

// The decode kernels' thresholds (issue 15, docs/PERFORMANCE.md "bf16 decode"): a decode step is
// ~30 kernel calls in a row, and each parallel region ends in a barrier that waits for the last
// thread. On a shared machine a neighbour preempts one of the threads at some of those barriers
// and the step waits a scheduler slice, so a region must carry enough work to be worth that: about
// 40 us on one thread, where splitting it saves about what waking the other thread costs on a
// quiet machine. The few-row linear (linear_rows_driver.h) reads its weights once per call, at
// ~25 GB/s per core: 1 MiB of weights for one row; its time grows with the rows (each weight is
// dotted with every row), so the weight bytes are counted once per row. Cached attention
// (attention_cached.cpp): 2^18 query-key multiply-adds over the step's rows ("small", one row: from
// position ~680 on). Results are the same on any thread count
// (tests/backend/batch_invariance_test.cpp), so these only move time.
constexpr size_t kMinParallelWeightBytes = size_t(1) << 20;
constexpr long kMinParallelAttention = long(1) << 18;
}  // namespace lmforge::cpu
