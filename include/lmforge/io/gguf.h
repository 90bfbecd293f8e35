// GGUF v3 (the file format of llama.cpp / ggml): a writer and a memory-mapped, fully validated
// reader. Layout: "GGUF", version, tensor count, key/value count, the key/value pairs, the tensor
// infos (name, dims innermost first, ggml type, offset), padding to general.alignment (32 by
// default), then the tensor data with every tensor aligned. Types handled for data: F32, F16,
// BF16 and Q8_0 (blocks of 32 int8 with one f16 scale). Any corrupt or truncated file is an
// InputError at open(), never an out-of-bounds read.
// Not here: llama.cpp's tensor names or metadata keys (model/export.h knows those).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "lmforge/core/mapped_file.h"

namespace lmforge {

// Metadata value types, numbered as in the GGUF specification.
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
const char* gguf_type_name(GgufType t);
// Bytes of one scalar value (1, 2, 4 or 8); 0 for strings and arrays.
size_t gguf_scalar_size(GgufType t);

// Tensor data types (ggml_type numbering) that lmforge writes and reads.
enum class GgmlType : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 8, kBF16 = 30 };
const char* ggml_type_name(GgmlType t);
// Elements per block and bytes per block (Q8_0: 32 and 34; the float types: 1 and 2 or 4).
int64_t ggml_block_size(GgmlType t);
size_t ggml_block_bytes(GgmlType t);

// One metadata value. Scalars live in u (unsigned), i (signed), f (float) or b by type; arrays
// hold their element type in elem and the elements in arr (nested arrays are allowed).
struct GgufValue {
  GgufType type = GgufType::kU32;
  GgufType elem = GgufType::kU8;  // arrays only
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  std::vector<GgufValue> arr;

  static GgufValue u32(uint32_t v);
  static GgufValue i32(int32_t v);
  static GgufValue u64(uint64_t v);
  static GgufValue f32(float v);
  static GgufValue boolean(bool v);
  static GgufValue str(std::string v);
  static GgufValue strings(const std::vector<std::string>& v);
  static GgufValue i32s(const std::vector<int32_t>& v);
  static GgufValue f32s(const std::vector<float>& v);

  // Any integer type as int64 (UsageError when this is not an integer or does not fit).
  int64_t as_int() const;
  double as_float() const;  // F32/F64 or an integer
  bool operator==(const GgufValue& o) const;
  std::string to_string() const;  // short printable form for messages and `--help`-style dumps
};

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;  // in file order

struct GgufTensorOut {
  std::string name;
  GgmlType type;
  std::vector<int64_t> ne;  // dims innermost first (ggml's ne[0] = row length)
  const void* data;         // ggml_nbytes(type, ne) bytes
};

// Bytes of a tensor of this type and shape (ne[0] must be a multiple of the block size).
size_t ggml_nbytes(GgmlType t, const std::vector<int64_t>& ne);

// Writes a GGUF v3 file atomically. general.alignment, when present in kv, must be a U32 power
// of two and is used; else 32. UsageError on duplicate keys/tensor names or a bad shape.
void write_gguf(const std::filesystem::path& path, const GgufMetadata& kv,
                const std::vector<GgufTensorOut>& tensors);

// f32 ↔ the stored types. Q8_0 follows ggml's reference quantizer (d = max|x|/127, round to
// nearest), so the bytes equal llama.cpp's for the same input.
std::vector<unsigned char> ggml_from_f32(GgmlType t, const float* x, size_t n);
void ggml_to_f32(GgmlType t, const void* src, float* out, size_t n);

class GgufFile {
 public:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    uint64_t offset;  // relative to the data section
    size_t nbytes;
    int64_t numel() const;
  };

  // Maps and validates: magic, version (2 or 3), counts bounded by the file size, every string
  // and array inside the file, known value and tensor types, at most 4 dims each ≥ 1 (≥ 0 for
  // zero-size tensors), no element-count overflow, offsets aligned and inside the data section,
  // no two tensors overlapping, no duplicate keys or tensor names. InputError(path, 0, field)
  // naming what is wrong otherwise.
  static GgufFile open(const std::filesystem::path& path);
  // Same checks over a buffer the caller keeps alive (the fuzz targets use this).
  static GgufFile parse(const unsigned char* data, size_t size, const std::string& name);

  GgufFile(GgufFile&& o) noexcept;
  GgufFile& operator=(GgufFile&& o) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const GgufMetadata& metadata() const { return kv_; }
  bool has_key(const std::string& key) const;
  // InputError naming the key when absent.
  const GgufValue& get(const std::string& key) const;
  const std::vector<Tensor>& tensors() const { return tensors_; }
  bool has_tensor(const std::string& name) const;
  const Tensor& tensor(const std::string& name) const;  // InputError when absent
  const void* raw(const std::string& name) const;
  // Dequantizes into out (numel must match).
  void read_f32(const std::string& name, float* out, size_t numel) const;
  const std::string& path() const { return path_; }

 private:
  GgufFile() = default;

  std::string path_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  GgufMetadata kv_;
  std::map<std::string, size_t> key_index_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
  MappedFile map_;                       // empty for parse() over a caller's buffer
  const unsigned char* data_ = nullptr;  // start of the tensor data section
};

}  // namespace lmforge
