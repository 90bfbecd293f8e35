// Safetensors: atomic writer and memory-mapped, fully validated reader.
// Not here: any knowledge of model tensor names.
#include "lmforge/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace lmforge {
namespace {

// Headers of real checkpoints are a few hundred KB; anything beyond this is corruption.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
const char* kHint = "the file is not a valid safetensors file (truncated or corrupt?)";

uint64_t read_le_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  size_t offset = 0;
  for (const auto& t : tensors) {
    if (!seen.insert(t.name).second)
      throw UsageError("[safetensors] duplicate tensor name '" + t.name + "'");
    if (t.name == "__metadata__") throw UsageError("[safetensors] reserved tensor name");
    for (int64_t d : t.shape)
      if (d < 0) throw UsageError("[safetensors] negative dimension in '" + t.name + "'");
    size_t bytes = size_t(shape_numel(t.shape)) * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';  // data section starts 8-byte aligned, as the reference writer
  write_file_atomic_with(path, [&](std::FILE* f) {
    unsigned char len[8];
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) len[i] = uint8_t(n >> (8 * i));
    bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(h.data(), 1, h.size(), f) == h.size();
    std::vector<unsigned char> filled;  // the one buffer of the tensors written through `fill`
    for (const auto& t : tensors) {
      size_t bytes = size_t(shape_numel(t.shape)) * dtype_size(t.dtype);
      if (!bytes || !ok) continue;
      const void* data = t.data;
      if (t.fill) {
        if (filled.size() < bytes) filled.resize(bytes);
        t.fill(filled.data());
        data = filled.data();
      }
      ok = std::fwrite(data, 1, bytes, f) == bytes;
    }
    if (!ok) throw RuntimeError("cannot write " + path.string());
  });
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string p = path.string();
  MappedFile m = MappedFile::open(path);
  if (m.size() < 8)
    throw InputError(p, 0, "header", "file is " + std::to_string(m.size()) + " bytes, too short",
                     kHint);
  SafetensorsFile sf = parse(m.data(), m.size(), p);
  sf.path_ = path;
  sf.map_ = std::move(m);  // data_ points into it
  return sf;
}

SafetensorsFile SafetensorsFile::parse(const unsigned char* bytes, size_t size,
                                       const std::string& p) {
  SafetensorsFile sf;
  sf.path_ = p;
  if (size < 8)
    throw InputError(p, 0, "header", "file is " + std::to_string(size) + " bytes, too short",
                     kHint);
  uint64_t hlen = read_le_u64(bytes);
  if (hlen > kMaxHeaderBytes || hlen > size - 8)
    throw InputError(
        p, 0, "header",
        "header length " + std::to_string(hlen) + " exceeds the file size " + std::to_string(size),
        kHint);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + hlen);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(p, 0, "header", std::string("header is not valid JSON: ") + e.what(), kHint);
  }
  if (!header.is_object()) throw InputError(p, 0, "header", "header is not a JSON object", kHint);
  sf.data_ = bytes + 8 + hlen;
  const size_t data_size = size - 8 - hlen;

  std::vector<std::pair<size_t, std::string>> order;  // (begin, name) for the overlap check
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw InputError(p, 0, name, "must be an object of strings", kHint);
      for (auto m2 = v.begin(); m2 != v.end(); ++m2) {
        if (!m2.value().is_string())
          throw InputError(p, 0, "__metadata__." + m2.key(), "value must be a string", kHint);
        sf.metadata_[m2.key()] = m2.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      throw InputError(p, 0, name, "entry needs dtype, shape and data_offsets", kHint);
    Entry e;
    if (!v["dtype"].is_string() || !dtype_from_name(v["dtype"].get<std::string>(), &e.dtype))
      throw InputError(p, 0, name, "unknown dtype " + v["dtype"].dump(),
                       "supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL");
    const auto& sh = v["shape"];
    if (!sh.is_array()) throw InputError(p, 0, name, "shape must be an array", kHint);
    // numel is accumulated with an overflow guard: a hostile shape must not wrap around.
    unsigned __int128 numel = 1;
    for (const auto& d : sh) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        throw InputError(p, 0, name, "shape " + sh.dump() + " has a bad dimension", kHint);
      e.shape.push_back(d.get<int64_t>());
      numel *= uint64_t(d.get<int64_t>());
      if (numel > std::numeric_limits<uint64_t>::max() / 8)
        throw InputError(p, 0, name, "shape " + sh.dump() + " is too large", kHint);
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      throw InputError(p, 0, name, "data_offsets must be two non-negative integers", kHint);
    uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_size)
      throw InputError(p, 0, name,
                       "data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                           "] out of range (data section is " + std::to_string(data_size) +
                           " bytes)",
                       kHint);
    e.numel = size_t(numel);
    if (en - b != e.numel * dtype_size(e.dtype))
      throw InputError(p, 0, name,
                       "byte size " + std::to_string(en - b) + " does not match shape " +
                           shape_str(e.shape) + " of " + dtype_name(e.dtype),
                       kHint);
    e.begin = size_t(b);
    e.end = size_t(en);
    if (e.end > e.begin) order.emplace_back(e.begin, name);
    sf.tensors_.emplace(name, std::move(e));
  }
  std::sort(order.begin(), order.end());
  for (size_t i = 1; i < order.size(); ++i) {
    const Entry& prev = sf.tensors_.at(order[i - 1].second);
    if (order[i].first < prev.end)
      throw InputError(p, 0, order[i].second, "overlaps tensor '" + order[i - 1].second + "'",
                       kHint);
  }
  return sf;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

const SafetensorsFile::Entry& SafetensorsFile::entry(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw InputError(path_.string(), 0, name, "tensor not found in the file",
                     "the checkpoint does not match the expected model layout");
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [n, e] : tensors_) out.push_back(n);
  return out;
}

std::vector<int64_t> SafetensorsFile::shape(const std::string& name) const {
  return entry(name).shape;
}
DType SafetensorsFile::dtype(const std::string& name) const {
  return entry(name).dtype;
}
size_t SafetensorsFile::numel(const std::string& name) const {
  return entry(name).numel;
}
const void* SafetensorsFile::raw(const std::string& name) const {
  return data_ + entry(name).begin;
}
size_t SafetensorsFile::nbytes(const std::string& name) const {
  const Entry& e = entry(name);
  return e.end - e.begin;
}

void SafetensorsFile::read_f32(const std::string& name, float* out, size_t numel) const {
  const Entry& e = entry(name);
  if (numel != e.numel)
    throw InputError(
        path_.string(), 0, name,
        "has " + std::to_string(e.numel) + " elements, expected " + std::to_string(numel));
  const unsigned char* src = data_ + e.begin;
  switch (e.dtype) {
    case DType::kF32:
      if (numel) std::memcpy(out, src, numel * 4);
      return;
    case DType::kBF16:
    case DType::kF16: {
      const bool bf = e.dtype == DType::kBF16;
#pragma omp parallel for schedule(static) if (numel > (1u << 16))
      for (size_t i = 0; i < numel; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = bf ? bf16_to_f32(h) : f16_to_f32(h);
      }
      return;
    }
    case DType::kF64:
      for (size_t i = 0; i < numel; ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        out[i] = float(d);
      }
      return;
    default:
      throw InputError(path_.string(), 0, name,
                       std::string("dtype ") + dtype_name(e.dtype) + " cannot be read as floats",
                       "expected F32, F16, BF16 or F64");
  }
}

void SafetensorsFile::read_i32(const std::string& name, int32_t* out, size_t numel) const {
  const Entry& e = entry(name);
  if (numel != e.numel)
    throw InputError(
        path_.string(), 0, name,
        "has " + std::to_string(e.numel) + " elements, expected " + std::to_string(numel));
  const unsigned char* src = data_ + e.begin;
  if (e.dtype == DType::kI32) {
    if (numel) std::memcpy(out, src, numel * 4);
    return;
  }
  if (e.dtype == DType::kI64) {
    for (size_t i = 0; i < numel; ++i) {
      int64_t v;
      std::memcpy(&v, src + 8 * i, 8);
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        throw InputError(path_.string(), 0, name, "value does not fit in int32");
      out[i] = int32_t(v);
    }
    return;
  }
  throw InputError(path_.string(), 0, name,
                   std::string("dtype ") + dtype_name(e.dtype) + " cannot be read as int32",
                   "expected I32 or I64");
}

}  // namespace lmforge
