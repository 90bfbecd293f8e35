// Token shard writer and memory-mapped reader (format in include/lmforge/data/shard.h).
// Not here: manifests or multi-shard datasets (token_dataset.cpp).
#include "lmforge/data/shard.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace lmforge {
namespace fs = std::filesystem;

// Shards are little-endian on disk; every platform we build for is too, so ids are copied as-is.
static_assert(std::endian::native == std::endian::little,
              "lmforge shards assume a little-endian host");

namespace {
constexpr const char* kRegenerateHint =
    "the file is damaged or not a token shard; re-run lmforge prepare";

// Printable rendering of raw header bytes for error messages.
std::string escape_bytes(const unsigned char* p, size_t n) {
  std::string s = "\"";
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = p[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      s += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      s += buf;
    }
  }
  return s + "\"";
}

template <typename T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
}  // namespace

int token_bytes_for_vocab(int64_t vocab_size) {
  return vocab_size <= 65536 ? 2 : 4;
}

void write_shard(const fs::path& path, std::span<const int32_t> tokens, int token_bytes) {
  check(token_bytes == 2 || token_bytes == 4, "write_shard",
        "token_bytes must be 2 or 4, got " + std::to_string(token_bytes));
  const int64_t max_id = token_bytes == 2 ? 65535 : INT32_MAX;
  unsigned char header[kShardHeaderBytes] = {};
  std::memcpy(header, kShardMagic, 8);
  const uint32_t version = kShardVersion, width = static_cast<uint32_t>(token_bytes);
  const uint64_t count = tokens.size();
  std::memcpy(header + 8, &version, 4);
  std::memcpy(header + 12, &width, 4);
  std::memcpy(header + 16, &count, 8);
  write_file_atomic_with(path, [&](std::FILE* f) {
    if (std::fwrite(header, 1, sizeof header, f) != sizeof header)
      throw RuntimeError("cannot write '" + path.string() + "': " + std::strerror(errno));
    // Convert in blocks so that a 100M-token shard never needs a second full-size buffer.
    constexpr size_t kBlock = 1 << 16;
    std::vector<unsigned char> buf(kBlock * token_bytes);
    for (size_t start = 0; start < tokens.size(); start += kBlock) {
      size_t n = std::min(kBlock, tokens.size() - start);
      for (size_t i = 0; i < n; ++i) {
        int32_t id = tokens[start + i];
        if (id < 0 || id > max_id)  // not check(): its message would be built for every id
          throw RuntimeError("[write_shard] token id " + std::to_string(id) + " at position " +
                             std::to_string(start + i) + " does not fit in " +
                             std::to_string(token_bytes) + " bytes");
        if (token_bytes == 2) {
          uint16_t v = static_cast<uint16_t>(id);
          std::memcpy(&buf[i * 2], &v, 2);
        } else {
          std::memcpy(&buf[i * 4], &id, 4);
        }
      }
      size_t bytes = n * token_bytes;
      if (std::fwrite(buf.data(), 1, bytes, f) != bytes)
        throw RuntimeError("cannot write '" + path.string() + "': " + std::strerror(errno));
    }
  });
}

Shard Shard::open(const fs::path& path) {
  const std::string name = path.string();
  Shard s;
  s.path_ = path;
  s.map_ = MappedFile::open(path, "token shard",
                            "check the path; shards are written by lmforge prepare");
  const size_t file_bytes = s.map_.size();
  if (file_bytes < kShardHeaderBytes)
    throw InputError(name, 0, "header",
                     "file is " + std::to_string(file_bytes) + " bytes, shorter than the " +
                         std::to_string(kShardHeaderBytes) + "-byte shard header",
                     kRegenerateHint);
  const unsigned char* h = s.map_.data();
  if (std::memcmp(h, kShardMagic, 8) != 0)
    throw InputError(name, 0, "magic", "expected \"LMFSHARD\", got " + escape_bytes(h, 8),
                     kRegenerateHint);
  const uint32_t version = load<uint32_t>(h + 8);
  if (version != kShardVersion)
    throw InputError(name, 0, "version",
                     "unsupported shard version " + std::to_string(version) +
                         " (this lmforge reads version " + std::to_string(kShardVersion) + ")",
                     "re-run lmforge prepare with this lmforge");
  const uint32_t width = load<uint32_t>(h + 12);
  if (width != 2 && width != 4)
    throw InputError(name, 0, "token_bytes", "must be 2 or 4, got " + std::to_string(width),
                     kRegenerateHint);
  const uint64_t count = load<uint64_t>(h + 16);
  const uint64_t payload = file_bytes - kShardHeaderBytes;
  if (count > payload / width || count * width != payload)
    throw InputError(name, 0, "count",
                     "header says " + std::to_string(count) + " tokens (" +
                         std::to_string(kShardHeaderBytes) + " + " + std::to_string(count) + "*" +
                         std::to_string(width) + " bytes) but the file has " +
                         std::to_string(file_bytes) + " bytes",
                     "the file is truncated or damaged; re-run lmforge prepare");
  s.token_bytes_ = static_cast<int>(width);
  s.count_ = count;
  s.data_ = h + kShardHeaderBytes;
  // Training reads sequential windows; let the kernel read ahead.
  s.map_.advise_sequential();
  return s;
}

Shard::Shard(Shard&& o) noexcept {
  *this = std::move(o);
}

Shard& Shard::operator=(Shard&& o) noexcept {
  if (this != &o) {
    path_ = std::move(o.path_);
    map_ = std::move(o.map_);
    data_ = o.data_;
    count_ = o.count_;
    token_bytes_ = o.token_bytes_;
    o.data_ = nullptr;
    o.count_ = 0;  // a moved-from shard is empty: reads throw out of range
  }
  return *this;
}

Shard::~Shard() = default;

void Shard::read(uint64_t start, size_t n, int32_t* out) const {
  if (start > count_ || n > count_ - start)
    throw RuntimeError("[Shard::read] range [" + std::to_string(start) + ", " +
                       std::to_string(start + n) + ") is outside '" + path_.string() + "' (" +
                       std::to_string(count_) + " tokens)");
  if (token_bytes_ == 4) {
    std::memcpy(out, data_ + start * 4, n * 4);
    return;
  }
  const unsigned char* p = data_ + start * 2;
  for (size_t i = 0; i < n; ++i) out[i] = load<uint16_t>(p + 2 * i);
}

int32_t Shard::at(uint64_t i) const {
  int32_t v;
  read(i, 1, &v);
  return v;
}

uint64_t Shard::first_id_at_least(uint32_t limit) const {
  if (token_bytes_ == 4) {
    for (uint64_t i = 0; i < count_; ++i)
      if (load<uint32_t>(data_ + 4 * i) >= limit) return i;
    return count_;
  }
  for (uint64_t i = 0; i < count_; ++i)
    if (load<uint16_t>(data_ + 2 * i) >= limit) return i;
  return count_;
}

}  // namespace lmforge
