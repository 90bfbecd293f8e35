// A whole file mapped read-only into memory, unmapped when the object dies. Movable, not
// copyable. The token shards, safetensors and GGUF readers hold their bytes this way; each then
// validates the contents itself. An empty file is an empty mapping (nothing is mapped).
// Not here: writing (core/file_util.h writes atomically), partial mappings.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

namespace lmforge {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps the file. Throws InputError(path, 0, "", "cannot open <what>: <reason>", hint) when it
  // cannot be opened, and likewise for stat and mmap failures. `what` names the kind of file in
  // the message ("token shard"); empty gives "cannot open: ...".
  static MappedFile open(const std::filesystem::path& path, const std::string& what = "",
                         const std::string& hint = "");

  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const unsigned char* data() const { return static_cast<const unsigned char*>(addr_); }
  size_t size() const { return size_; }
  // Tells the kernel the mapping will be read front to back (read-ahead).
  void advise_sequential() const;

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lmforge
