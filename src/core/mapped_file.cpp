// MappedFile: open, fstat, mmap (PROT_READ, MAP_PRIVATE), close the descriptor at once (the
// mapping keeps the file alive), munmap on destruction.
#include "lmforge/core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lmforge/core/error.h"

namespace lmforge {

MappedFile MappedFile::open(const std::filesystem::path& path, const std::string& what,
                            const std::string& hint) {
  const std::string name = path.string();
  auto fail = [&](const char* action, int err) {
    return InputError(name, 0, "",
                      std::string("cannot ") + action + (what.empty() ? "" : " " + what) + ": " +
                          std::strerror(err),
                      hint);
  };
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw fail("open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw fail("stat", err);
  }
  MappedFile m;
  m.size_ = static_cast<size_t>(st.st_size);
  if (m.size_ > 0) {
    void* addr = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (addr == MAP_FAILED) throw fail("map", err);
    m.addr_ = addr;
  } else {
    ::close(fd);
  }
  return m;
}

MappedFile::MappedFile(MappedFile&& o) noexcept : addr_(o.addr_), size_(o.size_) {
  o.addr_ = nullptr;
  o.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (addr_) ::munmap(addr_, size_);
    addr_ = o.addr_;
    size_ = o.size_;
    o.addr_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (addr_) ::munmap(addr_, size_);
}

void MappedFile::advise_sequential() const {
  if (addr_) ::madvise(addr_, size_, MADV_SEQUENTIAL);
}

}  // namespace lmforge
