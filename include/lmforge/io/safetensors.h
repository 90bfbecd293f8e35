// Safetensors reading and writing (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__"},
// then the raw bytes. Files are memory-mapped and validated completely at open(), so a corrupt
// or truncated file is reported as an InputError and never read out of bounds.
// Not here: HF name mapping or model logic (that is model/), nor any quantized format.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lmforge/core/mapped_file.h"
#include "lmforge/core/tensor.h"

namespace lmforge {

struct NamedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;  // numel·dtype_size bytes, host memory
  // When set (and data is null): writes the numel·dtype_size bytes into the buffer it is given,
  // at the moment the tensor is written, so a converted copy (a transpose) exists for one tensor
  // at a time instead of for all of them until the file is written.
  std::function<void(void* out)> fill = {};
};

// Writes the tensors in the given order (offsets contiguous, header padded to 8 bytes), atomically
// (temp file + fsync + rename). Throws UsageError on duplicate names, RuntimeError on I/O failure.
// Tensors with `fill` share one buffer, the size of the largest of them.
void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

class SafetensorsFile {
 public:
  // Maps and validates the file: header length within the file, JSON well formed, every entry
  // with a known dtype, non-negative shape, offsets in range, byte size = numel·dtype_size, no two
  // tensors overlapping. Throws InputError(path, 0, "<tensor name>", message, hint) otherwise.
  static SafetensorsFile open(const std::filesystem::path& path);
  // The same checks over a buffer the caller keeps alive while the result is used (fuzz
  // targets, in-memory files); name is used in messages.
  static SafetensorsFile parse(const unsigned char* data, size_t size, const std::string& name);

  SafetensorsFile(SafetensorsFile&& o) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& o) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  std::vector<std::string> names() const;  // sorted
  // The accessors below throw InputError naming the tensor when it is absent.
  std::vector<int64_t> shape(const std::string& name) const;
  DType dtype(const std::string& name) const;
  size_t numel(const std::string& name) const;
  // Raw bytes in the file's dtype (may be unaligned: copy with memcpy).
  const void* raw(const std::string& name) const;
  size_t nbytes(const std::string& name) const;
  // Converts F32/F16/BF16/F64 to f32. numel must equal the tensor's element count; other dtypes
  // are an InputError.
  void read_f32(const std::string& name, float* out, size_t numel) const;
  // Copies an I32 tensor (or an I64 one whose values fit) into out.
  void read_i32(const std::string& name, int32_t* out, size_t numel) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    size_t numel;
    size_t begin, end;  // byte offsets relative to the data section
  };
  SafetensorsFile() = default;
  const Entry& entry(const std::string& name) const;

  std::filesystem::path path_;
  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
  MappedFile map_;                       // empty for parse() over a caller's buffer
  const unsigned char* data_ = nullptr;  // start of the data section inside the bytes
};

}  // namespace lmforge
