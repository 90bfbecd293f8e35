// ParamArena: one contiguous, 64-byte aligned float buffer holding many named tensors
// (parameters, gradients, AdamW m and v all use the same layout, so one loop over numel()
// updates everything). Entries are packed back to back in the order they were added, with no
// padding: the model relies on this to treat consecutive entries (q_proj, k_proj, v_proj) as
// one matrix. Not a general allocator and not resizable after finalize().
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "lmforge/core/tensor.h"

namespace lmforge {

// 64-byte aligned, zero-initialized float storage (a cache line; what AVX-512 loads like).
struct AlignedFree {
  void operator()(float* p) const;
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;
AlignedFloats alloc_aligned_floats(size_t n);  // zeroed; n == 0 gives an empty pointer

class ParamArena {
 public:
  ParamArena() = default;
  ParamArena(ParamArena&&) noexcept = default;
  ParamArena& operator=(ParamArena&&) noexcept = default;
  ParamArena(const ParamArena&) = delete;
  ParamArena& operator=(const ParamArena&) = delete;

  // Declares a tensor; only before finalize(). Throws RuntimeError on a duplicate name.
  void add(const std::string& name, std::vector<int64_t> shape);
  // Allocates the buffer (zeroed). Further add() calls throw.
  void finalize();
  bool finalized() const { return finalized_; }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  size_t numel() const { return numel_; }
  const std::vector<TensorInfo>& entries() const { return entries_; }

  bool has(const std::string& name) const { return index_.count(name) != 0; }
  // Throws RuntimeError naming the tensor when absent (or before finalize() for get()).
  float* get(const std::string& name);
  const float* get(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;

  // Same entries, new zeroed buffer (gradients, optimizer moments).
  ParamArena clone_layout() const;
  void zero();
  // Element-wise copy from an arena with the same layout (throws otherwise).
  void copy_from(const ParamArena& other);

 private:
  std::vector<TensorInfo> entries_;
  std::unordered_map<std::string, size_t> index_;
  AlignedFloats data_;
  size_t numel_ = 0;
  bool finalized_ = false;
};

}  // namespace lmforge
