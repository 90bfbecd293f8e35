// GGUF v3 writer and the f32 <-> F16/BF16/Q8_0 conversions. The file is assembled as header +
// metadata + tensor infos in memory, then streamed with the tensor data (each padded to the
// alignment) into a temp file that is renamed into place. Not here: the reader (gguf.cpp).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/tensor.h"
#include "lmforge/io/gguf.h"

namespace lmforge {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxDims = 4;              // GGML_MAX_DIMS

uint64_t align_up(uint64_t x, uint64_t a) {
  return (x + a - 1) / a * a;
}

bool is_pow2(uint64_t x) {
  return x && !(x & (x - 1));
}

void put_uint(std::string& out, uint64_t v, size_t k) {
  for (size_t i = 0; i < k; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}

void put_string(std::string& out, const std::string& s) {
  put_uint(out, s.size(), 8);
  out += s;
}

void put_value(std::string& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::kU8:
    case GgufType::kU16:
    case GgufType::kU32:
    case GgufType::kU64:
      put_uint(out, v.u, gguf_scalar_size(v.type));
      break;
    case GgufType::kI8:
    case GgufType::kI16:
    case GgufType::kI32:
    case GgufType::kI64:
      put_uint(out, uint64_t(v.i), gguf_scalar_size(v.type));
      break;
    case GgufType::kF32: {
      float f = float(v.f);
      uint32_t raw;
      std::memcpy(&raw, &f, 4);
      put_uint(out, raw, 4);
      break;
    }
    case GgufType::kF64: {
      uint64_t raw;
      std::memcpy(&raw, &v.f, 8);
      put_uint(out, raw, 8);
      break;
    }
    case GgufType::kBool:
      out.push_back(v.b ? 1 : 0);
      break;
    case GgufType::kString:
      put_string(out, v.s);
      break;
    case GgufType::kArray:
      put_uint(out, uint32_t(v.elem), 4);
      put_uint(out, v.arr.size(), 8);
      for (const GgufValue& e : v.arr) {
        if (e.type != v.elem) throw UsageError("[gguf] array element of the wrong type");
        put_value(out, e);
      }
      break;
  }
}

}  // namespace

// ---- conversions -------------------------------------------------------------------------------

std::vector<unsigned char> ggml_from_f32(GgmlType t, const float* x, size_t n) {
  std::vector<unsigned char> out(size_t(n / ggml_block_size(t)) * ggml_block_bytes(t));
  switch (t) {
    case GgmlType::kF32:
      if (n) std::memcpy(out.data(), x, n * 4);
      break;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h = t == GgmlType::kF16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      break;
    case GgmlType::kQ8_0:
      if (n % 32) throw UsageError("[gguf] Q8_0 needs a multiple of 32 elements");
      for (size_t b = 0; b < n / 32; ++b) {
        const float* xb = x + 32 * b;
        unsigned char* yb = out.data() + 34 * b;
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        uint16_t dh = f32_to_f16(d);
        std::memcpy(yb, &dh, 2);
        for (int j = 0; j < 32; ++j) yb[2 + j] = uint8_t(int8_t(std::roundf(xb[j] * id)));
      }
      break;
  }
  return out;
}

void ggml_to_f32(GgmlType t, const void* src, float* out, size_t n) {
  const auto* p = static_cast<const unsigned char*>(src);
  switch (t) {
    case GgmlType::kF32:
      if (n) std::memcpy(out, p, n * 4);
      return;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = t == GgmlType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      return;
    case GgmlType::kQ8_0:
      for (size_t b = 0; b < n / 32; ++b) {
        uint16_t dh;
        std::memcpy(&dh, p + 34 * b, 2);
        const float d = f16_to_f32(dh);
        for (int j = 0; j < 32; ++j) out[32 * b + j] = d * float(int8_t(p[34 * b + 2 + j]));
      }
      return;
  }
}

// ---- writer ------------------------------------------------------------------------------------

void write_gguf(const std::filesystem::path& path, const GgufMetadata& kv,
                const std::vector<GgufTensorOut>& tensors) {
  uint64_t alignment = 32;
  std::set<std::string> keys;
  for (const auto& [k, v] : kv) {
    if (!keys.insert(k).second) throw UsageError("[gguf] duplicate key '" + k + "'");
    if (k == "general.alignment") {
      if (v.type != GgufType::kU32 || !is_pow2(v.u))
        throw UsageError("[gguf] general.alignment must be a u32 power of two");
      alignment = v.u;
    }
  }
  std::string head;
  put_uint(head, kMagic, 4);
  put_uint(head, 3, 4);
  put_uint(head, tensors.size(), 8);
  put_uint(head, kv.size(), 8);
  for (const auto& [k, v] : kv) {
    put_string(head, k);
    put_uint(head, uint32_t(v.type), 4);
    put_value(head, v);
  }
  std::set<std::string> names;
  std::vector<size_t> sizes;
  uint64_t offset = 0;
  for (const GgufTensorOut& t : tensors) {
    if (!names.insert(t.name).second)
      throw UsageError("[gguf] duplicate tensor name '" + t.name + "'");
    if (t.ne.empty() || t.ne.size() > size_t(kMaxDims))
      throw UsageError("[gguf] tensor '" + t.name + "' needs 1 to 4 dims");
    for (int64_t d : t.ne)
      if (d < 0) throw UsageError("[gguf] negative dimension in '" + t.name + "'");
    sizes.push_back(ggml_nbytes(t.type, t.ne));
    put_string(head, t.name);
    put_uint(head, t.ne.size(), 4);
    for (int64_t d : t.ne) put_uint(head, uint64_t(d), 8);
    put_uint(head, uint32_t(t.type), 4);
    put_uint(head, offset, 8);
    offset = align_up(offset + sizes.back(), alignment);
  }
  head.resize(align_up(head.size(), alignment), '\0');
  write_file_atomic_with(path, [&](std::FILE* f) {
    bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size();
    static const char zeros[256] = {};
    for (size_t i = 0; i < tensors.size() && ok; ++i) {
      if (sizes[i]) ok = std::fwrite(tensors[i].data, 1, sizes[i], f) == sizes[i];
      size_t pad = align_up(sizes[i], alignment) - sizes[i];
      while (ok && pad) {
        size_t k = std::min(pad, sizeof zeros);
        ok = std::fwrite(zeros, 1, k, f) == k;
        pad -= k;
      }
    }
    if (!ok) throw RuntimeError("cannot write " + path.string());
  });
}

}  // namespace lmforge
