// ParamArena implementation: bookkeeping of named views plus one aligned allocation.
#include "lmforge/core/arena.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "lmforge/core/error.h"

namespace lmforge {

void AlignedFree::operator()(float* p) const {
  std::free(p);
}

AlignedFloats alloc_aligned_floats(size_t n) {
  if (n == 0) return AlignedFloats();
  size_t bytes = (n * sizeof(float) + 63) / 64 * 64;  // aligned_alloc needs a multiple of 64
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return AlignedFloats(static_cast<float*>(p));
}

void ParamArena::add(const std::string& name, std::vector<int64_t> shape) {
  check(!finalized_, "arena", "add('" + name + "') after finalize()");
  check(index_.count(name) == 0, "arena", "duplicate tensor '" + name + "'");
  for (int64_t d : shape) check(d >= 0, "arena", "negative dimension in '" + name + "'");
  TensorInfo t;
  t.name = name;
  t.numel = size_t(shape_numel(shape));
  t.shape = std::move(shape);
  t.offset = numel_;
  numel_ += t.numel;
  index_[name] = entries_.size();
  entries_.push_back(std::move(t));
}

void ParamArena::finalize() {
  check(!finalized_, "arena", "finalize() called twice");
  data_ = alloc_aligned_floats(numel_);
  finalized_ = true;
}

const TensorInfo& ParamArena::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw RuntimeError("[arena] no tensor named '" + name + "'");
  return entries_[it->second];
}

float* ParamArena::get(const std::string& name) {
  const TensorInfo& t = info(name);
  check(finalized_, "arena", "get('" + name + "') before finalize()");
  return data_.get() + t.offset;
}

const float* ParamArena::get(const std::string& name) const {
  const TensorInfo& t = info(name);
  check(finalized_, "arena", "get('" + name + "') before finalize()");
  return data_.get() + t.offset;
}

ParamArena ParamArena::clone_layout() const {
  ParamArena a;
  for (const auto& t : entries_) a.add(t.name, t.shape);
  a.finalize();
  return a;
}

void ParamArena::zero() {
  if (numel_) std::memset(data_.get(), 0, numel_ * sizeof(float));
}

void ParamArena::copy_from(const ParamArena& other) {
  check(finalized_ && other.finalized_, "arena", "copy_from() needs finalized arenas");
  check(other.entries_.size() == entries_.size() && other.numel_ == numel_, "arena",
        "copy_from() between different layouts");
  for (size_t i = 0; i < entries_.size(); ++i)
    check(
        entries_[i].name == other.entries_[i].name && entries_[i].shape == other.entries_[i].shape,
        "arena", "copy_from() layout mismatch at '" + entries_[i].name + "'");
  if (numel_) std::memcpy(data_.get(), other.data_.get(), numel_ * sizeof(float));
}

}  // namespace lmforge
