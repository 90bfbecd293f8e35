// A prepared data directory (written by `lmforge prepare`): manifest.json, token shards per split
// (train-00000.bin, val-00000.bin, ...) and a copy of the tokenizer. TokenDataset presents one
// split as a single sequence of token ids across its shards (documents are separated by the
// <|endoftext|> id, which precedes every document).
// Not here: batching, shuffling or window sampling (the trainer's data source does that).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lmforge/data/shard.h"

namespace lmforge {

inline constexpr const char* kManifestFormat = "lmforge-tokens";
inline constexpr int kManifestVersion = 1;

struct ShardInfo {
  std::string file;     // relative to the data directory, e.g. "train-00000.bin"
  uint64_t tokens = 0;  // must equal the shard header's count
};

struct SplitInfo {
  uint64_t documents = 0;
  uint64_t tokens = 0;  // sum of the shards' tokens (including one <|endoftext|> per document)
  uint64_t bytes = 0;   // UTF-8 bytes of the documents' text (for bits per byte)
  std::vector<ShardInfo> shards;
};

struct SourceInfo {
  std::string path;  // as given on the command line (or found under a given directory)
  uint64_t bytes = 0;
  uint64_t documents = 0;
};

struct DataManifest {
  std::string tokenizer_hash;  // Tokenizer::content_hash() of the tokenizer that made the shards
  int32_t vocab_size = 0;
  int32_t eot_id = -1;
  int token_bytes = 2;
  uint64_t train_tokens = 0, val_tokens = 0;  // == train.tokens, val.tokens
  SplitInfo train, val;
  std::vector<SourceInfo> sources;
  double val_fraction = 0;
  uint64_t seed = 0;
  std::string doc_split;  // "blank-line" or "file"

  const SplitInfo& split(const std::string& name) const;  // "train" | "val"; UsageError otherwise
};

// Reads DIR/manifest.json. InputError naming the file and field when it is missing or malformed
// (wrong format name, unsupported version, missing or ill-typed keys, inconsistent totals).
DataManifest read_manifest(const std::filesystem::path& data_dir);
// Serializes a manifest as pretty-printed JSON (the exact content of manifest.json).
std::string manifest_to_json(const DataManifest& manifest);
// Writes DIR/manifest.json atomically.
void write_manifest(const std::filesystem::path& data_dir, const DataManifest& manifest);

class TokenDataset {
 public:
  // Opens every shard of `split` ("train" | "val") and checks each one's width and count against
  // the manifest (InputError naming the shard otherwise). A split with no shards is empty.
  static TokenDataset open(const std::filesystem::path& data_dir, const std::string& split);

  uint64_t num_tokens() const { return total_; }
  // Copies ids at global positions [pos, pos + n) of the split into out (crossing shard
  // boundaries as needed). RuntimeError when the range is outside the split. Thread-safe.
  void read(uint64_t pos, size_t n, int32_t* out) const;
  const DataManifest& manifest() const { return manifest_; }
  const std::string& split() const { return split_; }
  size_t num_shards() const { return shards_.size(); }

 private:
  DataManifest manifest_;
  std::string split_;
  std::vector<Shard> shards_;
  std::vector<uint64_t> starts_;  // global position of each shard's first token
  uint64_t total_ = 0;
};

}  // namespace lmforge
