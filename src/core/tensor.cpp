// dtype tables and the bit-level conversions between f32 and bf16 / f16.
// Not here: any math on tensors (that is the backend's job).
#include "lmforge/core/tensor.h"

#include <cstring>

namespace lmforge {
namespace {
struct DTypeRow {
  DType type;
  const char* name;
  size_t size;
};
constexpr DTypeRow kDTypes[] = {
    {DType::kF32, "F32", 4},   {DType::kBF16, "BF16", 2}, {DType::kF16, "F16", 2},
    {DType::kI32, "I32", 4},   {DType::kF64, "F64", 8},   {DType::kI64, "I64", 8},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},     {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

size_t dtype_size(DType t) {
  for (const auto& r : kDTypes)
    if (r.type == t) return r.size;
  return 0;
}

const char* dtype_name(DType t) {
  for (const auto& r : kDTypes)
    if (r.type == t) return r.name;
  return "?";
}

bool dtype_from_name(const std::string& name, DType* out) {
  for (const auto& r : kDTypes) {
    if (name == r.name) {
      *out = r.type;
      return true;
    }
  }
  return false;
}

const char* device_name(Device d) {
  return d == Device::kCPU ? "cpu" : "cuda";
}

int64_t shape_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

float bf16_to_f32(uint16_t h) {
  return bits_f32(uint32_t(h) << 16);
}

uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
  return uint16_t(u >> 16);
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  if (exp == 0) {
    if (mant == 0) return bits_f32(sign);
    // Subnormal: value = mant · 2^-24, exact in f32.
    float v = float(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);   // NaN
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero) in f16: scale so that the f16 ulp (2^-24) becomes 1 and let
    // the f32 adder round to nearest even.
    float v = bits_f32(abs) + 0.5f;  // 0.5 = 2^-1: aligns 2^-24 to the f32 ulp of 0.5
    return uint16_t(sign | (f32_bits(v) - f32_bits(0.5f)));
  }
  uint32_t mant_odd = (abs >> 13) & 1u;
  abs += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round to nearest even
  return uint16_t(sign | (abs >> 13));
}

}  // namespace lmforge
