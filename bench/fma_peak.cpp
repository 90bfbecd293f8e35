// The machine's arithmetic peak, as `mfu` uses it (backend/peak.h): for every instruction-set
// level this CPU has, the fp32 FMA peak (vfmadd231ps ymm at avx2, zmm from avx512 up) and the bf16
// peak (vdpbf16ps zmm at avx512_bf16, tdpbf16ps tiles at amx_bf16), each measured now on all
// OpenMP threads, per thread, and against the level below (the reference in the same run). Then
// the cached figures that training divides by (backend::machine_peak, measured once per machine
// in ~/.cache/lmforge/peak.json). No GEMM and no training step can beat these numbers.
// Not a test. Usage: fma_peak (OMP_NUM_THREADS sets the threads; LMFORGE_ISA caps the levels)
#include <omp.h>

#include <cstdio>
#include <string>
#include <vector>

#include "lmforge/backend/isa.h"
#include "lmforge/backend/peak.h"

using namespace lmforge::backend;

namespace {

// FLOP per cycle per core if the core issues two of the instruction per cycle (two FMA pipes, as
// Zen 4/5 and most Xeons have) or, for AMX, one tdpbf16ps every 16 cycles (Sapphire Rapids): the
// clock it implies is a plausibility check, not a measurement.
double flop_per_cycle(PeakKernel k) {
  return k == PeakKernel::amx_bf16 ? peak_kernel_flops(k) / 16 : 2 * peak_kernel_flops(k);
}

void print_row(const char* level, const Peak& p, double reference, const char* ref_name) {
  std::printf("%-12s %-5s %-16s %9.1f %11.1f %8.2f", level, precision_name(p.precision),
              peak_kernel_name(p.kernel), p.flops / 1e9, p.per_thread() / 1e9,
              p.per_thread() / flop_per_cycle(p.kernel) / 1e9);
  if (reference > 0) std::printf("   %.2fx %s", p.flops / reference, ref_name);
  std::printf("\n");
}

}  // namespace

int main() {
  std::printf("cpu: %s; %s; %d OpenMP threads\n", cpu_model().c_str(), isa_name(cpu_isa()),
              omp_get_max_threads());
  std::printf("%-12s %-5s %-16s %9s %11s %8s   %s\n", "level", "prec", "instruction", "GFLOP/s",
              "per thread", "GHz(*)", "vs the level below");
  const Isa top = active_isa();
  double fp32_below = 0, bf16_below = 0;
  for (Isa level : {Isa::avx2, Isa::avx512, Isa::avx512_bf16, Isa::amx_bf16}) {
    if (level > top) {
      std::printf("%-12s skipped: %s\n", isa_name(level),
                  level > cpu_isa() ? "this CPU lacks it" : "capped by LMFORGE_ISA");
      continue;
    }
    IsaCap cap(level);
    if (level == Isa::avx2 || level == Isa::avx512) {
      const Peak p = measure_peak(Precision::fp32);
      print_row(isa_name(level), p, fp32_below, "fp32 below");
      fp32_below = p.flops;
    }
    if (level >= Isa::avx512_bf16) {
      const Peak p = measure_peak(Precision::bf16);
      print_row(isa_name(level), p, bf16_below > 0 ? bf16_below : fp32_below,
                bf16_below > 0 ? "bf16 below" : "fp32 FMA");
      bf16_below = p.flops;
    }
  }
  std::printf(
      "(*) the clock implied if the core issues 2 such instructions per cycle "
      "(1 tdpbf16ps per 16 cycles)\n\n");
  std::printf("mfu divides by (backend::machine_peak, cache %s):\n",
              peak_cache_file().empty() ? "off: no HOME" : peak_cache_file().c_str());
  for (Precision p : {Precision::fp32, Precision::bf16})
    std::printf("  %s\n", machine_peak(p).describe().c_str());
  return 0;
}
