// Private to the CPU backend: the per-ISA twins of the kernels. A kernel family with an AVX-512
// version keeps its bodies in <family>_kernels.h, which is compiled twice: once in <family>.cpp
// (the x86-64-v3 baseline, namespace cpu::avx2) and once in <family>_avx512.cpp (per-file
// -mavx512f/bw/dq/vl, namespace cpu::avx512, CMakeLists.txt). The public cpu:: function in
// <family>.cpp checks arguments, then calls avx512:: when backend::isa_at_least(Isa::avx512),
// else avx2::. Distinct namespaces keep the two builds of one body from meeting at link time;
// an AVX-512 object must also define no weak (inline/template) symbol, which the linker could
// pick for baseline callers too (checked by the isa_objects test, scripts/check_isa_objects.sh).
// Not every declared twin is defined: only the families that have a <family>_avx512.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include "lmforge/backend/isa.h"
#include "lmforge/backend/kernels.h"
#include "lmforge/backend/kernels_infer.h"

#define LMFORGE_ISA_EXTRA_KERNELS                                                                 \
  /* attention.cpp's blocked passes, after argument checks and the key transpose (see there). */  \
  void attention_forward_blocks(float* out, float* lse, const float* qkv, const float* kT_all,    \
                                const int32_t* pos, int B, int T, int NH, int NKV, int HS);       \
  void attention_backward_blocks(float* dqkv, const float* dout, const float* qkv,                \
                                 const float* lse, const float* Dterm, const int32_t* pos, int B, \
                                 int T, int NH, int NKV, int HS);                                 \
  /* linear_rows_forward_bf16 with the activations already rounded to bf16 (xr as floats, xb as   \
     bf16; each path reads one, the other may be null), see linear_infer_bf16.cpp. */             \
  void linear_rows_bf16(float* out, const float* xr, const bf16_t* xb, const bf16_t* weight,      \
                        const float* bias, int N, int IC, int OC);

namespace lmforge::cpu::avx2 {
LMFORGE_KERNELS(float)
LMFORGE_INFER_KERNELS(float)
LMFORGE_ISA_EXTRA_KERNELS
}  // namespace lmforge::cpu::avx2

namespace lmforge::cpu::avx512 {
LMFORGE_KERNELS(float)
LMFORGE_INFER_KERNELS(float)
LMFORGE_ISA_EXTRA_KERNELS
// The vdpbf16ps path of linear_rows_bf16 (AVX512_BF16; linear_infer_bf16_avx512.cpp).
void linear_rows_bf16_dp(float* out, const float* xr, const bf16_t* xb, const bf16_t* weight,
                         const float* bias, int N, int IC, int OC);
}  // namespace lmforge::cpu::avx512

namespace lmforge::cpu {
// The dispatchers' test: true when the AVX-512 twin may run (CPU, LMFORGE_ISA and IsaCap).
inline bool use_avx512() {
  return backend::isa_at_least(backend::Isa::avx512);
}
}  // namespace lmforge::cpu
