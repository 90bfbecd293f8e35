// Run-time instruction-set detection (cpuid + xgetbv) and the process-wide matmul precision.
#include "lmforge/backend/isa.h"

#include <cpuid.h>
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "lmforge/core/error.h"

namespace lmforge::backend {
namespace {

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

// Linux grants AMX tile data per process on request (arch_prctl ARCH_REQ_XCOMP_PERM, feature 18).
bool request_amx_permission() {
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

Isa detect() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(1, 0, &a, &b, &c, &d)) return Isa::avx2;
  const bool osxsave = c & (1u << 27);
  if (!osxsave) return Isa::avx2;
  const uint64_t xcr0 = xgetbv0();
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;  // SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_tiles = (xcr0 & (3ull << 17)) == (3ull << 17);
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return Isa::avx2;
  const bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
  const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24);
  unsigned a1 = 0, b1, c1, d1;
  __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
  const bool avx512_bf16 = a1 & (1u << 5);
  if (!(os_zmm && f && dq && bw && vl)) return Isa::avx2;
  if (!avx512_bf16) return Isa::avx512;
  if (amx_bf16 && amx_tile && os_tiles && request_amx_permission()) return Isa::amx_bf16;
  return Isa::avx512_bf16;
}

constexpr int kNoCap = 1000;
std::atomic<int> g_test_cap{kNoCap};
std::atomic<int> g_precision{int(Precision::fp32)};

Isa env_capped(Isa cpu) {
  const char* env = std::getenv("LMFORGE_ISA");
  if (!env || !*env) return cpu;
  auto want = parse_isa(env);
  if (!want) {
    static std::once_flag warned;
    std::call_once(warned, [env] {
      std::fprintf(stderr,
                   "lmforge: ignoring LMFORGE_ISA=%s (use avx2, avx512, avx512_bf16 or amx_bf16)\n",
                   env);
    });
    return cpu;
  }
  if (*want > cpu) {
    static std::once_flag warned;
    std::call_once(warned, [&] {
      std::fprintf(stderr, "lmforge: LMFORGE_ISA=%s is above this CPU's %s; using %s\n", env,
                   isa_name(cpu), isa_name(cpu));
    });
    return cpu;
  }
  return *want;
}

}  // namespace

Isa cpu_isa() {
  static const Isa isa = detect();
  return isa;
}

Isa process_isa() {
  static const Isa env = env_capped(cpu_isa());
  return env;
}

Isa active_isa() {
  const Isa env = process_isa();
  const int cap = g_test_cap.load(std::memory_order_relaxed);
  return cap < int(env) ? Isa(cap) : env;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
    case Isa::avx512_bf16:
      return "avx512_bf16";
    case Isa::amx_bf16:
      return "amx_bf16";
  }
  return "?";
}

std::optional<Isa> parse_isa(std::string_view name) {
  for (Isa i : {Isa::avx2, Isa::avx512, Isa::avx512_bf16, Isa::amx_bf16})
    if (name == isa_name(i)) return i;
  return std::nullopt;
}

IsaCap::IsaCap(Isa cap) : previous_(g_test_cap.exchange(int(cap))) {}
IsaCap::~IsaCap() {
  g_test_cap.store(previous_);
}

Precision resolve_precision(std::string_view name) {
  if (name == "auto") return native_bf16() ? Precision::bf16 : Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  if (name == "fp32") return Precision::fp32;
  throw UsageError("--precision: '" + std::string(name) + "' is not one of auto, bf16, fp32");
}

const char* precision_name(Precision p) {
  return p == Precision::bf16 ? "bf16" : "fp32";
}

bool native_bf16() {
  return isa_at_least(Isa::avx512_bf16);
}

void set_precision(Precision p) {
  g_precision.store(int(p));
}
Precision precision() {
  return Precision(g_precision.load(std::memory_order_relaxed));
}

PrecisionScope::PrecisionScope(Precision p) : previous_(precision()) {
  set_precision(p);
}
PrecisionScope::~PrecisionScope() {
  set_precision(previous_);
}

std::string backend_summary() {
  const Precision p = precision();
  std::string s = "cpu: ";
  s += isa_name(active_isa());
  s += " (" + std::to_string(omp_get_max_threads()) + " threads), precision: ";
  s += precision_name(p);
  if (p == Precision::bf16 && !native_bf16()) s += " (emulated: no bf16 instructions)";
  s += ", gemm: " + gemm_name(p);
  return s;
}

}  // namespace lmforge::backend
