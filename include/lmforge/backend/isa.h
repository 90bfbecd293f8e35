// What the CPU can do and what the kernels are allowed to use: the instruction-set level (detected
// once at run time, optionally capped by LMFORGE_ISA for testing lower paths) and the matmul
// precision (fp32, or bf16 inputs with fp32 accumulation). The binary is built for x86-64-v3
// (AVX2+FMA); every faster path is chosen here at run time, never by -march.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace lmforge::backend {

// Levels in increasing order; each includes everything below it.
//   avx2         AVX2 + FMA (the build's baseline, x86-64-v3)
//   avx512       AVX-512 F/BW/DQ/VL with the OS saving zmm state
//   avx512_bf16  avx512 + AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16): AMD Zen 4/5, Intel Cooper Lake+
//   amx_bf16     avx512_bf16 + AMX-TILE/AMX-BF16 with the OS granting tile state: Sapphire Rapids+
enum class Isa { avx2 = 0, avx512 = 1, avx512_bf16 = 2, amx_bf16 = 3 };

// What this CPU supports (cpuid + xgetbv, read once).
Isa cpu_isa();
// What the kernels dispatch on: cpu_isa() capped by the environment variable LMFORGE_ISA
// (avx2|avx512|avx512_bf16|amx_bf16) and by a test's IsaCap. Asking for more than the CPU has is
// capped at the CPU's level (with a one-time note on stderr), never an illegal instruction.
Isa active_isa();
inline bool isa_at_least(Isa level) { return active_isa() >= level; }
// cpu_isa() capped by LMFORGE_ISA only (not by IsaCap): the level fixed for the process, e.g. the
// cap given to oneDNN, which accepts one cap per process.
Isa process_isa();
const char* isa_name(Isa isa);
std::optional<Isa> parse_isa(std::string_view name);

// Scoped cap for tests: within its lifetime active_isa() is at most `cap`.
class IsaCap {
 public:
  explicit IsaCap(Isa cap);
  ~IsaCap();
  IsaCap(const IsaCap&) = delete;
  IsaCap& operator=(const IsaCap&) = delete;

 private:
  int previous_;
};

// Matmul precision. bf16: the inputs of every matmul (weights, activations, gradients) are rounded
// to bfloat16 (round to nearest even) and products accumulate in fp32; master weights, optimizer
// state, losses, softmax and norm statistics stay fp32. On a CPU without bf16 instructions the same
// numbers are produced by rounding inputs and running the fp32 GEMM ("emulated": same results up
// to summation order, no speed-up).
enum class Precision { fp32 = 0, bf16 = 1 };

// "auto" -> bf16 where the CPU has native bf16 matmul (avx512_bf16 or amx_bf16 active), else fp32;
// "bf16", "fp32" as named. Throws UsageError naming the accepted values otherwise.
Precision resolve_precision(std::string_view name);
const char* precision_name(Precision p);
// True when bf16 matmuls run on bf16 hardware instructions (not emulated) at the active ISA.
bool native_bf16();

// The process-wide matmul precision the kernel seam uses (default fp32). Set once by a command at
// start (after resolving --precision); tests use PrecisionScope.
void set_precision(Precision p);
Precision precision();
class PrecisionScope {
 public:
  explicit PrecisionScope(Precision p);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision previous_;
};

// The GEMM library chosen for a precision at the active ISA, e.g. "onednn 2.6.3", "openblas",
// "lmforge avx2" (implemented beside the GEMM, src/backend/cpu/gemm.cpp).
std::string gemm_name(Precision p);

// One line for logs, --version, /health and the report card, e.g.
// "cpu: avx512_bf16 (2 threads), precision: bf16, gemm: onednn 2.6.3".
std::string backend_summary();

}  // namespace lmforge::backend
