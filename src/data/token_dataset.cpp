// manifest.json reading/writing and the multi-shard TokenDataset.
// Not here: producing shards (prepare.cpp).
#include "lmforge/data/token_dataset.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr const char* kRegenerateHint = "re-run lmforge prepare to regenerate the data directory";

// Typed access to manifest keys; every failure names the file and the dotted key path.
class ManifestReader {
 public:
  explicit ManifestReader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& msg) const {
    throw InputError(file_, 0, field, msg, kRegenerateHint);
  }
  const json& get(const json& obj, const std::string& key, const std::string& path) const {
    auto it = obj.find(key);
    if (it == obj.end()) fail(path, "missing");
    return *it;
  }
  std::string str(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = get(obj, key, path);
    if (!v.is_string()) fail(path, std::string("expected a string, got ") + v.type_name());
    return v.get<std::string>();
  }
  uint64_t u64(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = get(obj, key, path);
    if (!v.is_number_unsigned())
      fail(path, std::string("expected a non-negative integer, got ") + v.dump());
    return v.get<uint64_t>();
  }
  double num(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = get(obj, key, path);
    if (!v.is_number()) fail(path, std::string("expected a number, got ") + v.type_name());
    return v.get<double>();
  }
  const json& object(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = get(obj, key, path);
    if (!v.is_object()) fail(path, std::string("expected an object, got ") + v.type_name());
    return v;
  }
  const json& array(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = get(obj, key, path);
    if (!v.is_array()) fail(path, std::string("expected an array, got ") + v.type_name());
    return v;
  }

  SplitInfo split(const json& splits, const std::string& name) const {
    const std::string p = "splits." + name;
    const json& s = object(splits, name, p);
    SplitInfo info;
    info.documents = u64(s, "documents", p + ".documents");
    info.tokens = u64(s, "tokens", p + ".tokens");
    info.bytes = u64(s, "bytes", p + ".bytes");
    const json& shards = array(s, "shards", p + ".shards");
    uint64_t sum = 0;
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string sp = p + ".shards[" + std::to_string(i) + "]";
      if (!shards[i].is_object()) fail(sp, "expected an object");
      ShardInfo sh;
      sh.file = str(shards[i], "file", sp + ".file");
      // Shards live inside the data directory: a path elsewhere is a damaged or hostile manifest.
      if (sh.file.empty() || sh.file.find('/') != std::string::npos || sh.file == "." ||
          sh.file == "..")
        fail(sp + ".file",
             "expected a file name inside the data directory, got \"" + sh.file + "\"");
      sh.tokens = u64(shards[i], "tokens", sp + ".tokens");
      sum += sh.tokens;
      info.shards.push_back(std::move(sh));
    }
    if (sum != info.tokens)
      fail(p + ".tokens",
           "says " + std::to_string(info.tokens) + " but its shards hold " + std::to_string(sum));
    return info;
  }

 private:
  std::string file_;
};

nlohmann::ordered_json split_to_json(const SplitInfo& s) {
  nlohmann::ordered_json shards = nlohmann::ordered_json::array();
  for (const auto& sh : s.shards) shards.push_back({{"file", sh.file}, {"tokens", sh.tokens}});
  return {{"documents", s.documents}, {"tokens", s.tokens}, {"bytes", s.bytes}, {"shards", shards}};
}
}  // namespace

const SplitInfo& DataManifest::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "val") return val;
  throw UsageError("unknown data split '" + name + "' (expected train or val)");
}

std::string manifest_to_json(const DataManifest& m) {
  nlohmann::ordered_json sources = nlohmann::ordered_json::array();
  for (const auto& s : m.sources)
    sources.push_back({{"path", s.path}, {"bytes", s.bytes}, {"documents", s.documents}});
  // Insertion order (format and version first) is fixed here, so the file is deterministic.
  nlohmann::ordered_json j = {
      {"format", kManifestFormat},
      {"version", kManifestVersion},
      {"tokenizer_hash", m.tokenizer_hash},
      {"vocab_size", m.vocab_size},
      {"eot_id", m.eot_id},
      {"token_bytes", m.token_bytes},
      {"doc_split", m.doc_split},
      {"val_fraction", m.val_fraction},
      {"seed", m.seed},
      {"splits", {{"train", split_to_json(m.train)}, {"val", split_to_json(m.val)}}},
      {"sources", sources}};
  return j.dump(2) + "\n";
}

void write_manifest(const fs::path& data_dir, const DataManifest& m) {
  write_file_atomic(data_dir / "manifest.json", manifest_to_json(m));
}

DataManifest read_manifest(const fs::path& data_dir) {
  const fs::path path = data_dir / "manifest.json";
  const std::string name = path.string();
  if (!fs::exists(path))
    throw InputError(name, 0, "", "missing",
                     fs::is_directory(data_dir)
                         ? "is this a directory written by lmforge prepare?"
                         : "the data directory does not exist; create it with lmforge prepare");
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::parse_error& e) {
    throw InputError(name, 0, "", "invalid JSON at byte " + std::to_string(e.byte),
                     kRegenerateHint);
  }
  ManifestReader r(name);
  if (!j.is_object()) r.fail("", "expected a JSON object");
  const std::string format = r.str(j, "format", "format");
  if (format != kManifestFormat)
    r.fail("format", "expected \"" + std::string(kManifestFormat) + "\", got \"" + format + "\"");
  const uint64_t version = r.u64(j, "version", "version");
  if (version != static_cast<uint64_t>(kManifestVersion))
    throw InputError(name, 0, "version",
                     "unsupported version " + std::to_string(version) + " (this lmforge reads " +
                         std::to_string(kManifestVersion) + ")",
                     "re-run lmforge prepare with this lmforge");
  DataManifest m;
  m.tokenizer_hash = r.str(j, "tokenizer_hash", "tokenizer_hash");
  const uint64_t vocab = r.u64(j, "vocab_size", "vocab_size");
  if (vocab == 0 || vocab > INT32_MAX)
    r.fail("vocab_size", "out of range: " + std::to_string(vocab));
  m.vocab_size = static_cast<int32_t>(vocab);
  const uint64_t eot = r.u64(j, "eot_id", "eot_id");
  if (eot >= vocab)
    r.fail("eot_id", std::to_string(eot) + " is not below vocab_size " + std::to_string(vocab));
  m.eot_id = static_cast<int32_t>(eot);
  const uint64_t width = r.u64(j, "token_bytes", "token_bytes");
  if (width != 2 && width != 4)
    r.fail("token_bytes", "must be 2 or 4, got " + std::to_string(width));
  m.token_bytes = static_cast<int>(width);
  if (m.token_bytes == 2 && vocab > 65536)
    r.fail("token_bytes", "2-byte ids cannot hold a vocabulary of " + std::to_string(vocab));
  m.doc_split = r.str(j, "doc_split", "doc_split");
  m.val_fraction = r.num(j, "val_fraction", "val_fraction");
  m.seed = r.u64(j, "seed", "seed");
  const json& splits = r.object(j, "splits", "splits");
  m.train = r.split(splits, "train");
  m.val = r.split(splits, "val");
  m.train_tokens = m.train.tokens;
  m.val_tokens = m.val.tokens;
  const json& sources = r.array(j, "sources", "sources");
  for (size_t i = 0; i < sources.size(); ++i) {
    const std::string sp = "sources[" + std::to_string(i) + "]";
    if (!sources[i].is_object()) r.fail(sp, "expected an object");
    m.sources.push_back({r.str(sources[i], "path", sp + ".path"),
                         r.u64(sources[i], "bytes", sp + ".bytes"),
                         r.u64(sources[i], "documents", sp + ".documents")});
  }
  return m;
}

TokenDataset TokenDataset::open(const fs::path& data_dir, const std::string& split) {
  TokenDataset d;
  d.manifest_ = read_manifest(data_dir);
  d.split_ = split;
  const SplitInfo& info = d.manifest_.split(split);
  for (const ShardInfo& sh : info.shards) {
    Shard s = Shard::open(data_dir / sh.file);
    const std::string name = (data_dir / sh.file).string();
    if (s.token_bytes() != d.manifest_.token_bytes)
      throw InputError(name, 0, "token_bytes",
                       "shard has " + std::to_string(s.token_bytes()) +
                           "-byte ids but manifest.json says " +
                           std::to_string(d.manifest_.token_bytes),
                       kRegenerateHint);
    if (s.size() != sh.tokens)
      throw InputError(name, 0, "count",
                       "shard holds " + std::to_string(s.size()) +
                           " tokens but manifest.json says " + std::to_string(sh.tokens),
                       kRegenerateHint);
    // An id outside the vocabulary would index past the embedding table; name it here, with the
    // shard and position, rather than deep inside training.
    const uint64_t bad = s.first_id_at_least(static_cast<uint32_t>(d.manifest_.vocab_size));
    if (bad < s.size())
      throw InputError(name, 0, "token " + std::to_string(bad),
                       "id " + std::to_string(static_cast<uint32_t>(s.at(bad))) +
                           " is outside the vocabulary of " +
                           std::to_string(d.manifest_.vocab_size) + " (manifest.json vocab_size)",
                       kRegenerateHint);
    d.starts_.push_back(d.total_);
    d.total_ += s.size();
    d.shards_.push_back(std::move(s));
  }
  return d;
}

void TokenDataset::read(uint64_t pos, size_t n, int32_t* out) const {
  if (pos > total_ || n > total_ - pos)
    throw RuntimeError("[TokenDataset::read] range [" + std::to_string(pos) + ", " +
                       std::to_string(pos + n) + ") is outside the " + split_ + " split (" +
                       std::to_string(total_) + " tokens)");
  // Last shard starting at or before pos (empty shards are skipped by the loop below).
  size_t i = std::upper_bound(starts_.begin(), starts_.end(), pos) - starts_.begin();
  i = i == 0 ? 0 : i - 1;
  while (n > 0) {
    const Shard& s = shards_[i];
    uint64_t local = pos - starts_[i];
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, s.size() - local));
    s.read(local, take, out);
    out += take;
    pos += take;
    n -= take;
    ++i;
  }
}

}  // namespace lmforge
