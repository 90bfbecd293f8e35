// Atomic file and directory writes: nothing half-written is ever visible under the final name.
// A file is written to "NAME.tmp-PID", flushed, fsync'ed and renamed; a directory is built as
// "NAME.tmp-PID/" and renamed into place once complete. The rename only ever replaces a regular
// file (a directory for write_dir_atomic): a symlink, FIFO or device under the final name is
// refused with UsageError and left untouched. "DIR/" and "DIR" name the same directory.
// Whether an existing output may be replaced at all is the caller's check (output_guard.h).
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace lmforge {

// Writes bytes to path atomically. Throws RuntimeError naming the path on failure, UsageError
// when the path exists and is not a regular file.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Streams into a temp file via the callback, then fsync + rename. The callback gets an open FILE*.
void write_file_atomic_with(const std::filesystem::path& path,
                            const std::function<void(std::FILE*)>& writer);

// Builds a directory atomically: fill(tmp_dir) populates a fresh temporary sibling directory,
// which then replaces `dir` (an existing `dir` is removed first). Throws on failure and cleans up;
// UsageError when `dir` exists and is not a directory (a symlink to one included).
void write_dir_atomic(const std::filesystem::path& dir,
                      const std::function<void(const std::filesystem::path&)>& fill);

// Reads a whole file. Throws InputError(path, 0, "", "cannot read ...") when it cannot.
std::string read_file(const std::filesystem::path& path);

// Fails early with UsageError when `dir` cannot be created or written (checked by creating and
// removing a probe file), so a long run never dies at its first save.
void ensure_writable_dir(const std::filesystem::path& dir);

// fsync a directory so that a rename inside it is durable.
void fsync_dir(const std::filesystem::path& dir);

}  // namespace lmforge
