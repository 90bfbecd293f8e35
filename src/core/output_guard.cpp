// The output check shared by every writing command (see output_guard.h). It only reads: stat
// calls, a directory listing and, for files, the first bytes.
#include "lmforge/core/output_guard.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"

namespace lmforge {
namespace fs = std::filesystem;

namespace {

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

[[noreturn]] void refuse(const OutputSpec& o, const std::string& why, const std::string& hint) {
  throw UsageError(o.option + " " + quoted(o.path) + ": " + why + " (hint: " + hint + ")");
}

// Glob with '*' only (any run of characters), enough for the names commands write.
bool glob_match(std::string_view pat, std::string_view name) {
  size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pat.size() && pat[p] == name[n]) {
      ++p, ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

bool matches_any(const std::vector<std::string>& pats, const std::string& name) {
  for (const auto& p : pats)
    if (glob_match(p, name)) return true;
  return false;
}

// Leftovers of an interrupted atomic write (file_util.cpp's temp, old and probe names).
bool is_leftover(const std::string& name) {
  return glob_match("*.tmp-*", name) || glob_match("*.old-*", name) ||
         glob_match(".write-probe-*", name);
}

std::string node_type(fs::file_type t) {
  switch (t) {
    case fs::file_type::symlink:
      return "a symbolic link";
    case fs::file_type::character:
      return "a character device";
    case fs::file_type::block:
      return "a block device";
    case fs::file_type::fifo:
      return "a FIFO (named pipe)";
    case fs::file_type::socket:
      return "a socket";
    case fs::file_type::directory:
      return "a directory";
    case fs::file_type::regular:
      return "a regular file";
    default:
      return "not a regular file or directory";
  }
}

// Absolute, with symlinks resolved where the path exists, so that two spellings of one place
// compare equal.
fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(fs::absolute(p), ec);
  if (ec) r = fs::absolute(p).lexically_normal();
  return strip_trailing_separators(r);
}

// a == b or b lies under a (component-wise).
bool is_within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin(), o = outer.begin();
  for (; o != outer.end(); ++o, ++i)
    if (i == inner.end() || *i != *o) return false;
  return true;
}

void check_inputs(const OutputSpec& o, const std::vector<InputPath>& inputs) {
  const fs::path out = resolved(o.path);
  for (const InputPath& in : inputs) {
    if (in.path.empty()) continue;
    const fs::path p = resolved(in.path);
    std::error_code ec;
    const bool same = out == p || fs::equivalent(out, p, ec);  // equivalent: hard links too
    const std::string named = in.option + " " + quoted(in.path);
    if (same)
      refuse(o, "is also the input " + named + "; writing it would destroy the input",
             "choose a new path for " + o.option);
    if (is_within(p, out))
      refuse(o, "contains the input " + named, "choose a path outside the inputs for " + o.option);
    if (fs::is_directory(p, ec) && is_within(out, p))
      refuse(o, "lies inside the input directory " + named,
             "choose a path outside the inputs for " + o.option);
  }
}

void check_file(const OutputSpec& o, const fs::file_status& st) {
  if (st.type() == fs::file_type::not_found) return;
  if (st.type() != fs::file_type::regular)
    refuse(o, "exists and is " + node_type(st.type()) + ", not a regular file",
           "choose a new file name for " + o.option);
  std::error_code ec;
  if (fs::file_size(o.path, ec) == 0 || ec || !o.same_kind) return;
  if (!o.same_kind(o.path))
    refuse(o,
           "exists and is not " + (o.what.empty() ? "an earlier output" : o.what) +
               " written by this command; it would be overwritten",
           "choose a new file name for " + o.option + ", or remove the file first");
}

void check_dir(const OutputSpec& o, const fs::file_status& st) {
  if (st.type() == fs::file_type::not_found) return;
  if (st.type() != fs::file_type::directory)
    refuse(o, "exists and is " + node_type(st.type()) + ", not a directory",
           "choose a new directory for " + o.option);
  if (matches_any(o.own, "*") && o.own.size() == 1) return;
  std::vector<std::string> foreign;
  bool proven = false;
  try {
    for (const auto& e : fs::directory_iterator(o.path)) {
      const std::string name = e.path().filename().string();
      if (matches_any(o.proof, name)) proven = true;
      if (!matches_any(o.own, name) && !is_leftover(name)) foreign.push_back(name);
    }
  } catch (const fs::filesystem_error& e) {
    refuse(o, std::string("cannot list the directory: ") + e.code().message(),
           "choose a readable directory for " + o.option);
  }
  if (foreign.empty() || proven) return;
  std::sort(foreign.begin(), foreign.end());
  std::string list;
  for (size_t i = 0; i < foreign.size() && i < 5; ++i) list += (i ? ", " : "") + foreign[i];
  if (foreign.size() > 5) list += " and " + std::to_string(foreign.size() - 5) + " more";
  refuse(o,
         "the directory is not empty and is not " +
             (o.what.empty() ? "an earlier output of this command" : o.what) + " (it holds " +
             list + ")",
         "choose a new or empty directory for " + o.option + "; nothing was changed");
}

}  // namespace

fs::path strip_trailing_separators(const fs::path& path) {
  std::string s = path.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  fs::path p(s);
  if (p.filename() == "." || p.filename() == "..") {
    s = fs::absolute(p).lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    p = s;
  }
  return p;
}

fs::path check_output(const OutputSpec& spec, const std::vector<InputPath>& inputs) {
  OutputSpec o = spec;
  if (o.path.empty()) throw UsageError(o.option + " is empty (hint: name the output path)");
  const std::string given = o.path.string();
  o.path = strip_trailing_separators(o.path);
  if (o.kind == OutputSpec::Kind::kFile && given.back() == '/')
    refuse(o, "ends with '/' but names a file", "drop the trailing '/'");
  // Overlap with an input first: it is the most telling reason when several apply.
  check_inputs(o, inputs);
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(o.path, ec);
  if (o.kind == OutputSpec::Kind::kFile)
    check_file(o, st);
  else
    check_dir(o, st);
  return o.path;
}

std::function<bool(const fs::path&)> starts_with_bytes(std::string magic) {
  return [magic = std::move(magic)](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string head(magic.size(), '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    return in.gcount() == static_cast<std::streamsize>(magic.size()) && head == magic;
  };
}

std::function<bool(const fs::path&)> jsonl_with_key(std::vector<std::string> keys) {
  return [keys = std::move(keys)](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string line;
    std::getline(in, line);
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return false;
    for (const auto& k : keys)
      if (j.contains(k)) return true;
    return false;
  };
}

const std::vector<std::string>& run_dir_names() {
  // What a training stage writes into RUN/ (train/stage.cpp, pretrain.cpp, instruct.cpp, dpo.cpp).
  static const std::vector<std::string> kNames = {
      "config.yaml", "metrics.jsonl", "checkpoints", "final",   "summary.json",
      "start.json",  "tokenizer",     "base",        "adapter", "ref_logprobs.json"};
  return kNames;
}

const std::vector<std::string>& run_dir_proof() {
  static const std::vector<std::string> kProof = {"metrics.jsonl", "checkpoints"};
  return kProof;
}

}  // namespace lmforge
