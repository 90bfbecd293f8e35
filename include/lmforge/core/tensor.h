// Tensor vocabulary shared by every layer: element types (dtype), devices, and the named view
// of a slice of an arena (TensorInfo). Also the scalar conversions between f32 and the 16-bit
// float formats (bf16, IEEE f16). This is deliberately not an owning N-d array class: storage
// lives in arenas (core/arena.h) and ops take raw pointers with explicit shapes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmforge {

// kF32/kBF16/kF16/kI32 are the types the engine computes with; the others exist so that
// checkpoints written by other tools (e.g. an int64 buffer, an f64 tensor) can be described.
enum class DType { kF32, kBF16, kF16, kI32, kF64, kI64, kI16, kI8, kU8, kBool };
enum class Device { kCPU, kCUDA };

// Bytes per element.
size_t dtype_size(DType t);
// Safetensors spelling: "F32", "BF16", "F16", "I32", "F64", "I64", "I16", "I8", "U8", "BOOL".
const char* dtype_name(DType t);
// Inverse of dtype_name; returns false for an unknown name.
bool dtype_from_name(const std::string& name, DType* out);
const char* device_name(Device d);

// A named view into an arena: `numel` floats starting at element `offset`.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset = 0;
  size_t numel = 0;
};

// Product of the dimensions (1 for a scalar shape {}).
int64_t shape_numel(const std::vector<int64_t>& shape);
// "(768, 2304)" for messages.
std::string shape_str(const std::vector<int64_t>& shape);

// bf16 is the top half of an f32; conversion from f32 rounds to nearest even, NaN stays NaN.
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
// IEEE 754 binary16 with subnormals, inf and NaN; f32→f16 rounds to nearest even.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace lmforge
