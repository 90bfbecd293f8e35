// bfloat16 storage: the top 16 bits of an IEEE float. Conversion rounds to nearest, ties to even
// (as vcvtneps2bf16 and PyTorch do); NaN stays NaN. Bulk conversions (vectorized, run-time
// dispatched) live in src/backend/cpu/bf16.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lmforge {

using bf16_t = uint16_t;

inline bf16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16_t((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16_t(u >> 16);
}

inline float bf16_to_float(bf16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// f rounded to the nearest bf16 value, as a float (what a bf16 matmul sees of its input).
inline float round_to_bf16(float f) {
  return bf16_to_float(float_to_bf16(f));
}

namespace cpu {
// dst[i] = float_to_bf16(src[i]) for n elements (AVX512_BF16 / AVX-512 / AVX2 by run-time
// dispatch).
void convert_to_bf16(bf16_t* dst, const float* src, size_t n);
// dst[i] = bf16_to_float(src[i]).
void convert_from_bf16(float* dst, const bf16_t* src, size_t n);
// A rows × cols matrix with leading dimension ld_src (>= cols) into a dense one (ld = cols).
void convert_to_bf16(bf16_t* dst, const float* src, size_t rows, size_t cols, size_t ld_src);
// dst[i] = round_to_bf16(src[i]): bf16 values kept in floats (the emulated bf16 GEMM's inputs).
void round_floats_to_bf16(float* dst, const float* src, size_t n);
void round_floats_to_bf16(float* dst, const float* src, size_t rows, size_t cols, size_t ld_src);
// All paths give the same bits as float_to_bf16 / round_to_bf16, denormals included (the
// AVX512_BF16 instruction flushes denormal inputs to zero; those lanes are redone exactly).
}  // namespace cpu

}  // namespace lmforge
