// backend::measure_peak: the machine's arithmetic peak for a precision (see peak.h), measured with
// the instruction chains of peak_kernels.h on every OpenMP thread at once. Also the CPU's brand
// string. The cache around it is peak_cache.cpp.
#include "lmforge/backend/peak.h"

#include <cpuid.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include "peak_kernels.h"

namespace lmforge::backend {
namespace {

using ChainFn = float (*)(long);

struct KernelInfo {
  ChainFn run;
  double flops_per_iteration;
};

KernelInfo kernel_info(PeakKernel k) {
  switch (k) {
    case PeakKernel::fma_ymm:
      return {cpu::peak_fma_ymm, cpu::kFmaYmmChains * peak_kernel_flops(k)};
    case PeakKernel::fma_zmm:
      return {cpu::peak_fma_zmm, cpu::kFmaZmmChains * peak_kernel_flops(k)};
    case PeakKernel::dpbf16_zmm:
      return {cpu::peak_dpbf16_zmm, cpu::kDpbf16Chains * peak_kernel_flops(k)};
    case PeakKernel::amx_bf16:
      return {cpu::peak_amx_bf16, cpu::kAmxTdpPerRound * peak_kernel_flops(k)};
  }
  return {cpu::peak_fma_ymm, cpu::kFmaYmmChains * peak_kernel_flops(PeakKernel::fma_ymm)};
}

// The calling thread's CPU time: a thread that the scheduler parks while another process runs
// is not charged for the wait, so a shared machine lowers the measured rate little.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

void keep(float v) {
  __asm__ volatile("" ::"x"(v));
}

// CPUs this process may run on (its affinity mask).
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return omp_get_num_procs();
  return std::max(1, CPU_COUNT(&set));
}

// Round length and the wall-clock budget: ~20 rounds of 12 ms fit in 0.3 s when the cores are
// free; at least 3 rounds run however loaded the machine is.
constexpr double kRoundSeconds = 0.012, kBudgetSeconds = 0.3;
constexpr int kMinRounds = 3, kMaxRounds = 24;

}  // namespace

const char* peak_kernel_name(PeakKernel k) {
  switch (k) {
    case PeakKernel::fma_ymm:
      return "vfmadd231ps ymm";
    case PeakKernel::fma_zmm:
      return "vfmadd231ps zmm";
    case PeakKernel::dpbf16_zmm:
      return "vdpbf16ps zmm";
    case PeakKernel::amx_bf16:
      return "tdpbf16ps";
  }
  return "?";
}

double peak_kernel_flops(PeakKernel k) {
  switch (k) {
    case PeakKernel::fma_ymm:
      return 8 * 2;  // 8 lanes x (mul + add)
    case PeakKernel::fma_zmm:
      return 16 * 2;  // 16 lanes x (mul + add)
    case PeakKernel::dpbf16_zmm:
      return 16 * 2 * 2;  // 16 lanes x 2 bf16 pairs x (mul + add)
    case PeakKernel::amx_bf16:
      return 16 * 16 * 32 * 2;  // C(16x16) += A(16x32) B(32x16)
  }
  return 0;
}

PeakKernel peak_kernel(Precision p) {
  const Isa isa = active_isa();
  if (p == Precision::bf16 && isa >= Isa::amx_bf16) return PeakKernel::amx_bf16;
  if (p == Precision::bf16 && isa >= Isa::avx512_bf16) return PeakKernel::dpbf16_zmm;
  return isa >= Isa::avx512 ? PeakKernel::fma_zmm : PeakKernel::fma_ymm;
}

std::string Peak::describe() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s peak %.1f GFLOP/s (%s, %s, %d thread%s%s)",
                precision_name(precision), flops / 1e9, peak_kernel_name(kernel), isa_name(isa),
                threads, threads == 1 ? "" : "s", from_cache ? ", cached" : "");
  return buf;
}

Peak measure_peak(Precision p) {
  Peak peak;
  peak.precision = p;
  peak.isa = active_isa();
  peak.kernel = peak_kernel(p);
  peak.threads = omp_get_max_threads();
  const KernelInfo k = kernel_info(peak.kernel);
  const auto wall0 = std::chrono::steady_clock::now();

  // Calibrate on this thread (this also wakes the core up from a low clock, and pays for the
  // first use of AMX state) until one call takes 2 ms, then size the rounds from it.
  long n = 256;
  double s = 0;
  for (;;) {
    const double t0 = thread_seconds();
    keep(k.run(n));
    s = thread_seconds() - t0;
    if (s >= 0.002 || n > (1L << 40)) break;
    n *= 4;
  }
  const long iterations = std::max(1L, long(double(n) * kRoundSeconds / std::max(s, 1e-9)));

  std::vector<double> rate(size_t(peak.threads), 0.0);
  double best = 0;
  for (int round = 0; round < kMaxRounds; round++) {
#pragma omp parallel num_threads(peak.threads)
    {
      const double t0 = thread_seconds();
      keep(k.run(iterations));
      const double t = thread_seconds() - t0;
      rate[size_t(omp_get_thread_num())] =
          t > 0 ? double(iterations) * k.flops_per_iteration / t : 0;
    }
    double total = 0;
    for (double r : rate) total += r;
    best = std::max(best, total);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    if (round + 1 >= kMinRounds && wall + kRoundSeconds > kBudgetSeconds) break;
  }
  // More threads than CPUs share the cores: each thread's CPU time then covers only its share.
  peak.flops = best * std::min(1.0, double(usable_cpus()) / peak.threads);
  return peak;
}

std::string cpu_model() {
  unsigned regs[12] = {};
  unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext < 0x80000004u) return "unknown x86-64";
  for (unsigned i = 0; i < 3; i++)
    __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2],
                &regs[4 * i + 3]);
  char brand[49] = {};
  for (int i = 0; i < 12; i++)
    for (int b = 0; b < 4; b++) brand[4 * i + b] = char((regs[i] >> (8 * b)) & 0xff);
  std::string s(brand);
  const size_t first = s.find_first_not_of(' ');
  if (first == std::string::npos) return "unknown x86-64";
  s = s.substr(first, s.find_last_not_of(' ') - first + 1);
  return s;
}

}  // namespace lmforge::backend
