// Atomic writes (temp + fsync + rename) and small file helpers.
#include "lmforge/core/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lmforge/core/error.h"

namespace lmforge {
namespace fs = std::filesystem;

namespace {
fs::path temp_sibling(const fs::path& path) {
  return path.parent_path() / (path.filename().string() + ".tmp-" + std::to_string(getpid()));
}
[[noreturn]] void io_fail(const fs::path& path, const std::string& what) {
  throw RuntimeError("cannot " + what + " '" + path.string() + "': " + std::strerror(errno));
}

// The atomic rename replaces whatever node has the final name. Only a regular file (or, for
// write_dir_atomic, a directory) may be replaced: renaming over a symlink, FIFO or device node
// would destroy that node instead of writing through it.
void refuse_non_regular(const fs::path& path, fs::file_type want) {
  std::error_code ec;
  const fs::file_type t = fs::symlink_status(path, ec).type();
  if (t == fs::file_type::not_found || t == fs::file_type::none || t == want) return;
  const char* is = t == fs::file_type::symlink     ? "a symbolic link"
                   : t == fs::file_type::character ? "a character device"
                   : t == fs::file_type::block     ? "a block device"
                   : t == fs::file_type::fifo      ? "a FIFO"
                   : t == fs::file_type::socket    ? "a socket"
                   : t == fs::file_type::directory ? "a directory"
                   : t == fs::file_type::regular   ? "a regular file"
                                                   : "a special file";
  throw UsageError("cannot write '" + path.string() + "': it exists and is " + is + ", not " +
                   (want == fs::file_type::directory ? "a directory" : "a regular file") +
                   " (hint: choose another path; it was left untouched)");
}

// "data/" names the directory "data": rename(2) and the temp sibling need the name itself.
fs::path without_trailing_slash(const fs::path& path) {
  std::string s = path.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}
}  // namespace

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some filesystems do not allow opening directories
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic_with(const fs::path& path, const std::function<void(std::FILE*)>& writer) {
  if (!path.empty() && path.string().back() == '/')
    throw UsageError("cannot write '" + path.string() +
                     "': the name ends with '/' but a file is written (hint: drop the '/')");
  refuse_non_regular(path, fs::file_type::regular);
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path());
  fs::path tmp = temp_sibling(path);
  // A stale temp of a killed writer with our pid is removed; O_EXCL|O_NOFOLLOW then guarantees
  // that we write a fresh file of our own, never through a link planted under the temp name.
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  std::FILE* f = fd >= 0 ? ::fdopen(fd, "wb") : nullptr;
  if (!f) {
    if (fd >= 0) ::close(fd);
    io_fail(tmp, "create");
  }
  try {
    writer(f);
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0 || std::ferror(f)) {
    std::fclose(f);
    std::remove(tmp.c_str());
    io_fail(path, "write");
  }
  std::fclose(f);
  try {
    refuse_non_regular(path, fs::file_type::regular);  // again: it may have appeared meanwhile
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    io_fail(path, "rename into");
  }
  fsync_dir(path.parent_path());
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  write_file_atomic_with(path, [&](std::FILE* f) {
    if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
      io_fail(path, "write");
  });
}

void write_dir_atomic(const fs::path& dir_in, const std::function<void(const fs::path&)>& fill) {
  const fs::path dir = without_trailing_slash(dir_in);
  refuse_non_regular(dir, fs::file_type::directory);
  if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path());
  fs::path tmp = temp_sibling(dir);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  // Move the old directory aside first so that at every moment either the old or the new
  // complete directory exists under a known name; if the final rename fails, put it back.
  fs::path old = dir.parent_path() / (dir.filename().string() + ".old-" + std::to_string(getpid()));
  bool moved_old = false;
  try {
    fill(tmp);
    fsync_dir(tmp);
    refuse_non_regular(dir, fs::file_type::directory);
    if (fs::exists(fs::symlink_status(dir))) {
      fs::rename(dir, old);
      moved_old = true;
    }
    fs::rename(tmp, dir);
    fs::remove_all(old, ec);
    fsync_dir(dir.parent_path());
  } catch (...) {
    fs::remove_all(tmp, ec);
    if (moved_old && !fs::exists(dir)) fs::rename(old, dir, ec);
    throw;
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), 0, "", "cannot read file", "check that it exists");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ensure_writable_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw UsageError("cannot create output directory '" + dir.string() + "': " + ec.message() +
                     " (hint: choose a writable location)");
  fs::path probe = dir / (".write-probe-" + std::to_string(getpid()));
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f)
    throw UsageError("output directory '" + dir.string() + "' is not writable: " +
                     std::strerror(errno) + " (hint: choose a writable location)");
  std::fclose(f);
  fs::remove(probe, ec);
}

}  // namespace lmforge
