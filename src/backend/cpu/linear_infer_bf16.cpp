// Few-row linear with bf16 weights (decode in bf16: half the weight bytes per token, and decode
// is bound by reading the weights). The activations are rounded to bf16 once per call here (N·IC
// values, small next to the OC·IC weights), so that every ISA path computes the same products:
//   avx512_bf16  vdpbf16ps on bf16 pairs, fp32 accumulation (linear_infer_bf16_avx512.cpp)
//   avx512       bf16 -> fp32 by a 16-bit shift, fp32 FMA, 16 lanes (same file)
//   avx2         the same with 8 lanes: the fp32 kernel's dot with a widening load (this
//                file, linear_rows_driver.h)
// Paths differ only in summation order. vdpbf16ps flushes denormal inputs and results to zero
// (bf16 denormals are below 1e-38; weights and activations never live there).
// Not here: bf16 GEMM for many rows (gemm.cpp), the bulk converters (bf16.cpp).
#include <vector>

#include "isa_kernels.h"
#include "linear_rows_driver.h"
#include "lmforge/backend/isa.h"

namespace lmforge::cpu {

namespace avx2 {
// Register budget as linear_infer.cpp: one row streams 8 weight rows (9 ymm); more rows take 4
// weight × 2 input rows (8 accumulators + 4 weights + 1 input, of 16 ymm).
void linear_rows_bf16(float* out, const float* xr, const bf16_t* xb, const bf16_t* weight,
                      const float* bias, int N, int IC, int OC) {
  if (N == 1)
    linear_rows<DotAvx2, 8, 1>(out, xr, IC, xb, weight, bias, N, IC, OC);
  else
    linear_rows<DotAvx2, 4, 2>(out, xr, IC, xb, weight, bias, N, IC, OC);
}
}  // namespace avx2

namespace {
// A per-thread buffer that only grows: the rounded activations of a call, without an allocation
// per call (a decode step makes one call per linear).
template <class T>
T* scratch(std::vector<T>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}
}  // namespace

void linear_rows_forward_bf16(float* out, const float* inp, const bf16_t* weight, const float* bias,
                              int N, int IC, int OC) {
  using backend::Isa;
  const size_t n = (size_t)N * IC;
  thread_local std::vector<bf16_t> xb_buf;
  thread_local std::vector<float> xr_buf;
  if (backend::isa_at_least(Isa::avx512_bf16)) {  // multiplies bf16 pairs: needs xb only
    bf16_t* xb = scratch(xb_buf, n);
    convert_to_bf16(xb, inp, n);
    avx512::linear_rows_bf16_dp(out, nullptr, xb, weight, bias, N, IC, OC);
    return;
  }
  float* xr = scratch(xr_buf, n);  // the shift paths widen the weights: floats only
  round_floats_to_bf16(xr, inp, n);
  if (backend::isa_at_least(Isa::avx512))
    avx512::linear_rows_bf16(out, xr, nullptr, weight, bias, N, IC, OC);
  else
    avx2::linear_rows_bf16(out, xr, nullptr, weight, bias, N, IC, OC);
}

}  // namespace lmforge::cpu
