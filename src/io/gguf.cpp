// GGUF v3: value helpers and the bounds-checked reader (the writer is gguf_write.cpp). Every read
// goes through Cursor, which checks the remaining length first, so a hostile file cannot make the
// parser read outside its buffer; counts are checked against the bytes left before anything is
// reserved. Not here: model tensor names or llama.cpp metadata keys (model/export*.cpp).
#include "lmforge/io/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/tensor.h"

namespace lmforge {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxDims = 4;              // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;
const char* kHint = "the file is not a valid GGUF file (truncated or corrupt?)";

bool known_value_type(uint64_t t) {
  return t <= uint32_t(GgufType::kF64);
}

bool known_ggml_type(uint64_t t) {
  return t == 0 || t == 1 || t == 8 || t == 30;
}

}  // namespace

size_t gguf_scalar_size(GgufType t) {
  switch (t) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kBool:
      return 1;
    case GgufType::kU16:
    case GgufType::kI16:
      return 2;
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kF32:
      return 4;
    case GgufType::kU64:
    case GgufType::kI64:
    case GgufType::kF64:
      return 8;
    default:
      return 0;
  }
}

namespace {

// Smallest encoding of one element: 8 bytes (length) for strings, 12 (type + count) for arrays.
size_t min_elem_size(GgufType t) {
  if (t == GgufType::kString) return 8;
  if (t == GgufType::kArray) return 12;
  return gguf_scalar_size(t);
}

class Cursor {
 public:
  Cursor(const unsigned char* p, size_t n, const std::string& file) : p_(p), n_(n), file_(file) {}
  size_t pos() const { return pos_; }
  size_t left() const { return n_ - pos_; }
  const std::string& file() const { return file_; }
  void need(uint64_t k, const std::string& field) const {
    if (k > left())
      throw InputError(file_, 0, field,
                       "needs " + std::to_string(k) + " bytes at offset " + std::to_string(pos_) +
                           " but only " + std::to_string(left()) + " are left",
                       kHint);
  }
  uint64_t uint(size_t k, const std::string& field) {
    need(k, field);
    uint64_t v = 0;
    for (size_t i = 0; i < k; ++i) v |= uint64_t(p_[pos_ + i]) << (8 * i);
    pos_ += k;
    return v;
  }
  std::string string(const std::string& field) {
    uint64_t len = uint(8, field);
    need(len, field);  // len ≤ left(), so the size_t conversion is exact
    std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(len));
    pos_ += size_t(len);
    return s;
  }

 private:
  const unsigned char* p_;
  size_t n_, pos_ = 0;
  const std::string& file_;
};

GgufValue read_value(Cursor& c, GgufType t, const std::string& field, int depth) {
  GgufValue v;
  v.type = t;
  switch (t) {
    case GgufType::kU8:
    case GgufType::kU16:
    case GgufType::kU32:
    case GgufType::kU64:
      v.u = c.uint(gguf_scalar_size(t), field);
      break;
    case GgufType::kI8:
    case GgufType::kI16:
    case GgufType::kI32:
    case GgufType::kI64: {
      const size_t k = gguf_scalar_size(t);
      uint64_t raw = c.uint(k, field);
      if (k < 8 && ((raw >> (8 * k - 1)) & 1)) raw |= ~uint64_t(0) << (8 * k);  // sign-extend
      v.i = int64_t(raw);
      break;
    }
    case GgufType::kF32: {
      uint32_t raw = uint32_t(c.uint(4, field));
      float f;
      std::memcpy(&f, &raw, 4);
      v.f = f;
      break;
    }
    case GgufType::kF64: {
      uint64_t raw = c.uint(8, field);
      std::memcpy(&v.f, &raw, 8);
      break;
    }
    case GgufType::kBool: {
      uint64_t b = c.uint(1, field);
      if (b > 1)
        throw InputError(c.file(), 0, field, "bool value " + std::to_string(b) + " is not 0 or 1",
                         kHint);
      v.b = b == 1;
      break;
    }
    case GgufType::kString:
      v.s = c.string(field);
      break;
    case GgufType::kArray: {
      if (depth >= kMaxArrayDepth)
        throw InputError(c.file(), 0, field, "arrays nested deeper than 8 levels", kHint);
      uint64_t et = c.uint(4, field);
      if (!known_value_type(et))
        throw InputError(c.file(), 0, field, "unknown array element type " + std::to_string(et),
                         kHint);
      v.elem = GgufType(et);
      uint64_t n = c.uint(8, field);
      if (n > c.left() / min_elem_size(v.elem))
        throw InputError(c.file(), 0, field,
                         "array of " + std::to_string(n) + " elements does not fit in the " +
                             std::to_string(c.left()) + " bytes left",
                         kHint);
      v.arr.reserve(size_t(n));
      for (uint64_t k = 0; k < n; ++k) v.arr.push_back(read_value(c, v.elem, field, depth + 1));
      break;
    }
  }
  return v;
}

uint64_t align_up(uint64_t x, uint64_t a) {
  return (x + a - 1) / a * a;
}

bool is_pow2(uint64_t x) {
  return x && !(x & (x - 1));
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static const char* names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  return uint32_t(t) <= 12 ? names[uint32_t(t)] : "?";
}

const char* ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kQ8_0:
      return "Q8_0";
    case GgmlType::kBF16:
      return "BF16";
  }
  return "?";
}

int64_t ggml_block_size(GgmlType t) {
  return t == GgmlType::kQ8_0 ? 32 : 1;
}

size_t ggml_block_bytes(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return 4;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return 2;
    case GgmlType::kQ8_0:
      return 34;
  }
  return 0;
}

size_t ggml_nbytes(GgmlType t, const std::vector<int64_t>& ne) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  if (!ne.empty() && ne[0] % ggml_block_size(t) != 0)
    throw UsageError(std::string("[gguf] row length ") + std::to_string(ne[0]) +
                     " is not a multiple of the " + ggml_type_name(t) + " block size");
  return size_t(n / ggml_block_size(t)) * ggml_block_bytes(t);
}

// ---- values ------------------------------------------------------------------------------------

GgufValue GgufValue::u32(uint32_t v) {
  GgufValue x;
  x.type = GgufType::kU32;
  x.u = v;
  return x;
}
GgufValue GgufValue::i32(int32_t v) {
  GgufValue x;
  x.type = GgufType::kI32;
  x.i = v;
  return x;
}
GgufValue GgufValue::u64(uint64_t v) {
  GgufValue x;
  x.type = GgufType::kU64;
  x.u = v;
  return x;
}
GgufValue GgufValue::f32(float v) {
  GgufValue x;
  x.type = GgufType::kF32;
  x.f = v;
  return x;
}
GgufValue GgufValue::boolean(bool v) {
  GgufValue x;
  x.type = GgufType::kBool;
  x.b = v;
  return x;
}
GgufValue GgufValue::str(std::string v) {
  GgufValue x;
  x.type = GgufType::kString;
  x.s = std::move(v);
  return x;
}
GgufValue GgufValue::strings(const std::vector<std::string>& v) {
  GgufValue x;
  x.type = GgufType::kArray;
  x.elem = GgufType::kString;
  for (const auto& s : v) x.arr.push_back(str(s));
  return x;
}
GgufValue GgufValue::i32s(const std::vector<int32_t>& v) {
  GgufValue x;
  x.type = GgufType::kArray;
  x.elem = GgufType::kI32;
  for (int32_t k : v) x.arr.push_back(i32(k));
  return x;
}
GgufValue GgufValue::f32s(const std::vector<float>& v) {
  GgufValue x;
  x.type = GgufType::kArray;
  x.elem = GgufType::kF32;
  for (float k : v) x.arr.push_back(f32(k));
  return x;
}

int64_t GgufValue::as_int() const {
  switch (type) {
    case GgufType::kU8:
    case GgufType::kU16:
    case GgufType::kU32:
    case GgufType::kU64:
      if (u > uint64_t(std::numeric_limits<int64_t>::max()))
        throw UsageError("[gguf] value " + std::to_string(u) + " does not fit in int64");
      return int64_t(u);
    case GgufType::kI8:
    case GgufType::kI16:
    case GgufType::kI32:
    case GgufType::kI64:
      return i;
    default:
      throw UsageError(std::string("[gguf] expected an integer, got ") + gguf_type_name(type));
  }
}

double GgufValue::as_float() const {
  if (type == GgufType::kF32 || type == GgufType::kF64) return f;
  return double(as_int());
}

bool GgufValue::operator==(const GgufValue& o) const {
  if (type != o.type) return false;
  switch (type) {
    case GgufType::kString:
      return s == o.s;
    case GgufType::kBool:
      return b == o.b;
    case GgufType::kF32:
    case GgufType::kF64:
      return f == o.f || (std::isnan(f) && std::isnan(o.f));
    case GgufType::kArray:
      return elem == o.elem && arr == o.arr;
    case GgufType::kI8:
    case GgufType::kI16:
    case GgufType::kI32:
    case GgufType::kI64:
      return i == o.i;
    default:
      return u == o.u;
  }
}

std::string GgufValue::to_string() const {
  switch (type) {
    case GgufType::kString:
      return s.size() > 60 ? "\"" + s.substr(0, 57) + "...\"" : "\"" + s + "\"";
    case GgufType::kBool:
      return b ? "true" : "false";
    case GgufType::kF32:
    case GgufType::kF64: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", f);
      return buf;
    }
    case GgufType::kArray:
      return std::string("[") + gguf_type_name(elem) + " x " + std::to_string(arr.size()) + "]";
    case GgufType::kI8:
    case GgufType::kI16:
    case GgufType::kI32:
    case GgufType::kI64:
      return std::to_string(i);
    default:
      return std::to_string(u);
  }
}

// ---- reader ------------------------------------------------------------------------------------

int64_t GgufFile::Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

GgufFile GgufFile::parse(const unsigned char* data, size_t size, const std::string& name) {
  GgufFile g;
  g.path_ = name;
  const std::string& p = g.path_;
  Cursor c(data, size, p);
  if (c.uint(4, "magic") != kMagic)
    throw InputError(p, 0, "magic", "the file does not start with \"GGUF\"", kHint);
  g.version_ = uint32_t(c.uint(4, "version"));
  if (g.version_ != 2 && g.version_ != 3)
    throw InputError(p, 0, "version", "unsupported GGUF version " + std::to_string(g.version_),
                     "lmforge reads GGUF versions 2 and 3");
  const uint64_t n_tensors = c.uint(8, "tensor_count");
  const uint64_t n_kv = c.uint(8, "kv_count");
  // A key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes, a tensor info at least
  // 8 + 4 + 8 + 4 + 8: larger counts cannot be honest.
  if (n_kv > c.left() / 13)
    throw InputError(p, 0, "kv_count", std::to_string(n_kv) + " pairs cannot fit the file", kHint);
  if (n_tensors > c.left() / 32)
    throw InputError(p, 0, "tensor_count", std::to_string(n_tensors) + " tensors cannot fit",
                     kHint);
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.string("kv[" + std::to_string(k) + "].key");
    uint64_t t = c.uint(4, key);
    if (!known_value_type(t))
      throw InputError(p, 0, key, "unknown value type " + std::to_string(t), kHint);
    GgufValue v = read_value(c, GgufType(t), key, 0);
    if (!g.key_index_.emplace(key, g.kv_.size()).second)
      throw InputError(p, 0, key, "duplicate key", kHint);
    g.kv_.emplace_back(std::move(key), std::move(v));
  }
  if (g.has_key("general.alignment")) {
    const GgufValue& a = g.get("general.alignment");
    if (a.type != GgufType::kU32 || !is_pow2(a.u))
      throw InputError(p, 0, "general.alignment",
                       "must be a u32 power of two, got " + std::string(gguf_type_name(a.type)) +
                           " " + a.to_string(),
                       kHint);
    g.alignment_ = uint32_t(a.u);
  }
  for (uint64_t k = 0; k < n_tensors; ++k) {
    Tensor t;
    t.name = c.string("tensor[" + std::to_string(k) + "].name");
    const std::string& f = t.name;
    uint64_t nd = c.uint(4, f);
    if (nd < 1 || nd > uint64_t(kMaxDims))
      throw InputError(p, 0, f, "has " + std::to_string(nd) + " dims (1 to 4 allowed)", kHint);
    unsigned __int128 numel = 1;
    for (uint64_t d = 0; d < nd; ++d) {
      uint64_t v = c.uint(8, f);
      if (v > uint64_t(std::numeric_limits<int64_t>::max()))
        throw InputError(p, 0, f, "dimension " + std::to_string(v) + " is too large", kHint);
      t.ne.push_back(int64_t(v));
      numel *= v;
      if (numel > (unsigned __int128)(std::numeric_limits<int64_t>::max() / 8))
        throw InputError(p, 0, f, "element count overflows", kHint);
    }
    uint64_t ty = c.uint(4, f);
    if (!known_ggml_type(ty))
      throw InputError(p, 0, f, "unsupported tensor type " + std::to_string(ty),
                       "lmforge reads F32, F16, BF16 and Q8_0 tensors");
    t.type = GgmlType(ty);
    if (t.ne[0] % ggml_block_size(t.type) != 0)
      throw InputError(p, 0, f,
                       "row length " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                           ggml_type_name(t.type) + " block size",
                       kHint);
    t.offset = c.uint(8, f);
    if (t.offset % g.alignment_ != 0)
      throw InputError(p, 0, f, "offset " + std::to_string(t.offset) + " is not aligned", kHint);
    t.nbytes = size_t(uint64_t(numel) / ggml_block_size(t.type) * ggml_block_bytes(t.type));
    if (!g.tensor_index_.emplace(t.name, g.tensors_.size()).second)
      throw InputError(p, 0, f, "duplicate tensor name", kHint);
    g.tensors_.push_back(std::move(t));
  }
  const uint64_t data_start = align_up(c.pos(), g.alignment_);
  if (data_start > size)
    throw InputError(p, 0, "data", "the file ends before the tensor data section", kHint);
  const uint64_t data_size = size - data_start;
  std::vector<std::pair<uint64_t, size_t>> order;
  for (size_t i = 0; i < g.tensors_.size(); ++i) {
    const Tensor& t = g.tensors_[i];
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw InputError(p, 0, t.name,
                       "data [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) +
                           ") lies beyond the data section (" + std::to_string(data_size) +
                           " bytes)",
                       kHint);
    if (t.nbytes) order.emplace_back(t.offset, i);
  }
  std::sort(order.begin(), order.end());
  for (size_t i = 1; i < order.size(); ++i) {
    const Tensor& prev = g.tensors_[order[i - 1].second];
    if (order[i].first < prev.offset + prev.nbytes)
      throw InputError(p, 0, g.tensors_[order[i].second].name,
                       "overlaps tensor '" + prev.name + "'", kHint);
  }
  g.data_ = data + data_start;
  return g;
}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  const std::string p = path.string();
  MappedFile m = MappedFile::open(path);
  if (m.size() == 0) throw InputError(p, 0, "magic", "the file is empty", kHint);
  GgufFile g = parse(m.data(), m.size(), p);
  g.map_ = std::move(m);  // data_ points into it
  return g;
}

GgufFile::GgufFile(GgufFile&& o) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&& o) noexcept = default;
GgufFile::~GgufFile() = default;

bool GgufFile::has_key(const std::string& key) const {
  return key_index_.count(key) != 0;
}

const GgufValue& GgufFile::get(const std::string& key) const {
  auto it = key_index_.find(key);
  if (it == key_index_.end())
    throw InputError(path_, 0, key, "missing metadata key",
                     "the GGUF file lacks what lmforge needs to rebuild the model");
  return kv_[it->second].second;
}

bool GgufFile::has_tensor(const std::string& name) const {
  return tensor_index_.count(name) != 0;
}

const GgufFile::Tensor& GgufFile::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end()) throw InputError(path_, 0, name, "tensor not found");
  return tensors_[it->second];
}

const void* GgufFile::raw(const std::string& name) const {
  return data_ + tensor(name).offset;
}

void GgufFile::read_f32(const std::string& name, float* out, size_t numel) const {
  const Tensor& t = tensor(name);
  if (int64_t(numel) != t.numel())
    throw InputError(
        path_, 0, name,
        "has " + std::to_string(t.numel()) + " elements, expected " + std::to_string(numel));
  ggml_to_f32(t.type, data_ + t.offset, out, numel);
}

}  // namespace lmforge
