// Token shard files: the on-disk unit that `prepare` writes and pretraining reads.
// Layout (all little-endian): a 32-byte header then `count` token ids of `token_bytes` each.
//   offset 0  magic "LMFSHARD" (8 bytes)
//   offset 8  uint32 version (= 1)
//   offset 12 uint32 token_bytes (2 = uint16 ids, 4 = uint32 ids)
//   offset 16 uint64 count
//   offset 24 8 reserved bytes, written as zero, ignored on read (room for later fields)
// Not here: which shards form a dataset (token_dataset.h), tokenization (prepare.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

#include "lmforge/core/mapped_file.h"

namespace lmforge {

inline constexpr char kShardMagic[8] = {'L', 'M', 'F', 'S', 'H', 'A', 'R', 'D'};
inline constexpr uint32_t kShardVersion = 1;
inline constexpr size_t kShardHeaderBytes = 32;

// Narrowest id width for a vocabulary: 2 bytes when every id fits in uint16, else 4.
int token_bytes_for_vocab(int64_t vocab_size);

// Writes a shard atomically (temp file + fsync + rename). token_bytes must be 2 or 4 and every id
// must fit in it (RuntimeError otherwise, before anything is renamed into place).
void write_shard(const std::filesystem::path& path, std::span<const int32_t> tokens,
                 int token_bytes);

// A read-only, memory-mapped shard. open() validates the header and the file size and throws
// InputError(path, 0, field, message, hint) naming the bad field ("header", "magic", "version",
// "token_bytes", "count"). Movable, not copyable; reads are thread-safe.
class Shard {
 public:
  static Shard open(const std::filesystem::path& path);

  Shard(Shard&& other) noexcept;
  Shard& operator=(Shard&& other) noexcept;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  uint64_t size() const { return count_; }
  int token_bytes() const { return token_bytes_; }
  const std::filesystem::path& path() const { return path_; }
  // Copies ids [start, start + n) into out, widened to int32. RuntimeError when out of range.
  void read(uint64_t start, size_t n, int32_t* out) const;
  int32_t at(uint64_t i) const;
  // Index of the first id >= limit (an id outside a vocabulary of `limit` tokens), or count when
  // every id is below it. Reads the whole file once.
  uint64_t first_id_at_least(uint32_t limit) const;

 private:
  Shard() = default;
  std::filesystem::path path_;
  MappedFile map_;
  const unsigned char* data_ = nullptr;  // first token id, just past the header
  uint64_t count_ = 0;
  int token_bytes_ = 0;
};

}  // namespace lmforge
