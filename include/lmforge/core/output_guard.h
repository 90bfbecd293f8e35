// The one check every writing command runs on its output paths before it touches anything, so
// that no command destroys a user's files (docs/FILES.md states the rule):
//   - an output that exists must be a regular file or a directory (never a symlink, FIFO or
//     device: the atomic rename would replace the node itself);
//   - an existing, non-empty output must be a previous output of the same command (a file of the
//     same kind, a directory holding only names the command writes, or a run directory with its
//     markers), since re-running must keep working (--resume, re-exports, pipelines);
//   - an output must not equal or contain an input, nor lie inside an input directory.
// A refusal is a UsageError (exit 2) naming the option and the path, with a hint; nothing is
// created. Not here: the writes themselves (file_util.h), what each command writes (its caller).
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace lmforge {

struct OutputSpec {
  enum class Kind {
    kFile,  // one file, replaced atomically
    kDir,   // a directory the command fills or replaces as a whole
  };
  std::string option = "--output";  // the option that named it, for messages
  std::filesystem::path path;
  Kind kind = Kind::kDir;
  // kDir: names (with '*' wildcards) the command writes; an existing directory holding only these
  // (and atomic-write leftovers "*.tmp-N", "*.old-N") is a previous output. {"*"}: any content
  // (a workspace whose entries each stage checks itself).
  std::vector<std::string> own;
  // kDir: names whose presence alone proves a previous output of this command, kept even when the
  // user added files of their own (a training run's metrics.jsonl, checkpoints/).
  std::vector<std::string> proof;
  // kFile: whether an existing non-empty regular file is a previous output of this command (e.g.
  // it starts with the format's magic). Unset: any regular file is.
  std::function<bool(const std::filesystem::path&)> same_kind;
  std::string what;  // what the command writes there ("a GGUF file"), for messages
};

// An input path and the option that named it (an empty path is skipped).
struct InputPath {
  std::string option;
  std::filesystem::path path;
};

// Checks one output against the rules above and the inputs; throws UsageError and touches
// nothing when it is refused. Returns the path without trailing separators ("data/" -> "data"),
// which is what the command should write to.
std::filesystem::path check_output(const OutputSpec& out, const std::vector<InputPath>& inputs);

// `path` without trailing separators; "." and ".." become the absolute directory they name.
std::filesystem::path strip_trailing_separators(const std::filesystem::path& path);

// same_kind predicates: the file starts with `magic`; the first line is a JSON object holding
// one of `keys`.
std::function<bool(const std::filesystem::path&)> starts_with_bytes(std::string magic);
std::function<bool(const std::filesystem::path&)> jsonl_with_key(std::vector<std::string> keys);

// The names a training run directory holds (for OutputSpec::own) and those that prove one.
const std::vector<std::string>& run_dir_names();
const std::vector<std::string>& run_dir_proof();

}  // namespace lmforge
