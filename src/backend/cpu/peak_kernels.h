// The instruction chains behind backend::measure_peak (peak.cpp): each function runs `iterations`
// rounds of independent multiply-add chains on the calling thread and returns a value read from
// the accumulators, so that the compiler keeps the work. Enough chains per round to cover the
// instruction's latency on every pipe of the CPUs seen so far (FMA: 4 cycles x 2 pipes;
// vdpbf16ps: up to 6 cycles x 2 pipes; AMX: 4 accumulator tiles, as oneDNN's kernels use).
// Each lives in a file compiled with that instruction set alone (CMakeLists.txt) and includes no
// C++ library header, so no inline function can be emitted there with instructions the baseline
// lacks. Callers check the ISA first (backend::active_isa()).
#pragma once

namespace lmforge::cpu {

constexpr int kFmaYmmChains = 12;   // vfmadd231ps ymm per round (16 ymm registers: 12 + 2 inputs)
constexpr int kFmaZmmChains = 24;   // vfmadd231ps zmm per round (32 zmm registers)
constexpr int kDpbf16Chains = 24;   // vdpbf16ps zmm per round
constexpr int kAmxTdpPerRound = 4;  // tdpbf16ps per round: 4 accumulators from 2 A and 2 B tiles

float peak_fma_ymm(long iterations);     // peak_avx2.cpp (x86-64-v3)
float peak_fma_zmm(long iterations);     // peak_avx512.cpp (AVX-512F)
float peak_dpbf16_zmm(long iterations);  // peak_avx512.cpp (AVX512_BF16)
// peak_amx.cpp (AMX-TILE + AMX-BF16): loads its tile configuration and releases the tiles after.
// The process must hold the AMX permission (backend::cpu_isa() asks Linux for it).
float peak_amx_bf16(long iterations);

}  // namespace lmforge::cpu
