// The machine's arithmetic peak: the FLOP/s ceiling that `mfu` divides by. Not a GEMM: each
// OpenMP thread runs independent chains of the widest multiply-add instruction the active ISA has
// for the precision in use, so nothing in that precision can go faster on these threads:
//   fp32  vfmadd231ps ymm (avx2: 8 lanes x 2 FLOP) or zmm (avx512 and up: 16 lanes x 2 FLOP)
//   bf16  vdpbf16ps zmm (avx512_bf16: 16 lanes x 2 pairs x 2 FLOP), tdpbf16ps (amx_bf16: a 16x16
//         fp32 tile += 16x32 by 32x16 bf16, 16,384 FLOP); below avx512_bf16 a bf16 matmul runs
//         on the fp32 FMAs (emulated), so its peak is the fp32 one.
// It is measured (about 0.3 s), not computed from a frequency table: the result is cores x FMA
// units x lanes x 2 x the clock the chip actually sustains under that instruction. The time base
// is each thread's own CPU time, so other processes sharing the cores lower it little.
// machine_peak() keeps one measurement per (CPU model, ISA, threads, precision) in
// $XDG_CACHE_HOME/lmforge/peak.json (else ~/.cache/lmforge/peak.json).
// Not here: model FLOPs per token (Transformer::flops_per_token), the MFU itself (train_loop).
#pragma once
#include <filesystem>
#include <string>

#include "lmforge/backend/isa.h"

namespace lmforge::backend {

// The instruction a peak runs on.
enum class PeakKernel { fma_ymm, fma_zmm, dpbf16_zmm, amx_bf16 };
const char* peak_kernel_name(PeakKernel k);  // e.g. "vfmadd231ps zmm"
// The kernel for precision `p` at the active ISA (see the table above).
PeakKernel peak_kernel(Precision p);
// FLOPs one instruction of the kernel performs.
double peak_kernel_flops(PeakKernel k);

struct Peak {
  double flops = 0;  // FLOP/s of all threads together
  int threads = 0;   // OpenMP threads it was measured on (omp_get_max_threads())
  Isa isa = Isa::avx2;
  Precision precision = Precision::fp32;
  PeakKernel kernel = PeakKernel::fma_ymm;
  bool from_cache = false;  // read from the cache file (not measured by this process)
  double per_thread() const { return threads > 0 ? flops / threads : 0; }
  // "fp32 peak 398.2 GFLOP/s (vfmadd231ps zmm, avx512_bf16, 2 threads, cached)"
  std::string describe() const;
};

// Measures now, never cached: the best of several short rounds (< 0.5 s in all) on
// omp_get_max_threads() threads at the active ISA.
Peak measure_peak(Precision p);

// The cached peak for this machine, measuring and caching it when the cache file has no valid
// entry for the key. A missing, unreadable, malformed or foreign cache file is ignored and
// rewritten (atomically; entries for other keys in a valid file are kept). Never throws for a
// cache that cannot be written: the measurement is returned all the same.
Peak machine_peak(Precision p);

// The CPU's brand string (cpuid 0x80000002..4), trimmed; "unknown x86-64" when absent.
std::string cpu_model();

// Where machine_peak() keeps its entries: $XDG_CACHE_HOME/lmforge/peak.json when XDG_CACHE_HOME
// is an absolute path, else $HOME/.cache/lmforge/peak.json; empty (no cache) without either.
std::filesystem::path peak_cache_file();

}  // namespace lmforge::backend
