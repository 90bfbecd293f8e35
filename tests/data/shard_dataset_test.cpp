// manifest.json round trip and validation; TokenDataset reads across several shards.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/token_dataset.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {
fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("lmforge-tds-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Three train shards of different sizes (one empty) holding 0..N-1, one val shard.
DataManifest write_dataset(const fs::path& d, int token_bytes) {
  DataManifest m;
  m.tokenizer_hash = "abc123";
  m.vocab_size = 300;
  m.eot_id = 299;
  m.token_bytes = token_bytes;
  m.doc_split = "blank-line";
  m.val_fraction = 0.25;
  m.seed = 7;
  int next = 0;
  for (int size : {5, 0, 11, 3}) {
    std::vector<int32_t> ids(size);
    std::iota(ids.begin(), ids.end(), next);
    next += size;
    std::string file = "train-0000" + std::to_string(m.train.shards.size()) + ".bin";
    write_shard(d / file, ids, token_bytes);
    m.train.shards.push_back({file, static_cast<uint64_t>(size)});
    m.train.tokens += size;
  }
  m.train.documents = 4;
  m.train.bytes = 100;
  write_shard(d / "val-00000.bin", std::vector<int32_t>{299, 1, 2}, token_bytes);
  m.val = {1, 3, 9, {{"val-00000.bin", 3}}};
  m.train_tokens = m.train.tokens;
  m.val_tokens = 3;
  m.sources = {{"corpus/a.txt", 109, 5}};
  write_manifest(d, m);
  return m;
}

std::string manifest_error(const fs::path& d) {
  try {
    read_manifest(d);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

void edit_manifest(const fs::path& d, const std::function<void(nlohmann::json&)>& edit) {
  auto j = nlohmann::json::parse(read_file(d / "manifest.json"));
  edit(j);
  write_file_atomic(d / "manifest.json", j.dump(2));
}
}  // namespace

TEST(Manifest, RoundTrip) {
  fs::path d = fresh_dir("rt");
  DataManifest m = write_dataset(d, 2);
  DataManifest r = read_manifest(d);
  EXPECT_EQ(r.tokenizer_hash, "abc123");
  EXPECT_EQ(r.vocab_size, 300);
  EXPECT_EQ(r.eot_id, 299);
  EXPECT_EQ(r.token_bytes, 2);
  EXPECT_EQ(r.train_tokens, 19u);
  EXPECT_EQ(r.val_tokens, 3u);
  EXPECT_EQ(r.train.documents, 4u);
  EXPECT_EQ(r.train.shards.size(), 4u);
  EXPECT_EQ(r.train.shards[2].file, "train-00002.bin");
  EXPECT_EQ(r.train.shards[2].tokens, 11u);
  EXPECT_EQ(r.val.bytes, 9u);
  ASSERT_EQ(r.sources.size(), 1u);
  EXPECT_EQ(r.sources[0].path, "corpus/a.txt");
  EXPECT_EQ(r.doc_split, "blank-line");
  EXPECT_EQ(r.seed, 7u);
  EXPECT_EQ(manifest_to_json(r), manifest_to_json(m));  // nothing lost either way
  fs::remove_all(d);
}

TEST(Manifest, ErrorsNameTheField) {
  fs::path d = fresh_dir("bad");
  const std::string n = (d / "manifest.json").string();
  const std::string hint = " (hint: re-run lmforge prepare to regenerate the data directory)";
  EXPECT_EQ(manifest_error(d),
            n + ": missing (hint: is this a directory written by lmforge prepare?)");
  write_dataset(d, 2);
  edit_manifest(d, [](auto& j) { j["format"] = "other"; });
  EXPECT_EQ(manifest_error(d),
            n + ": field 'format': expected \"lmforge-tokens\", got \"other\"" + hint);
  write_dataset(d, 2);
  edit_manifest(d, [](auto& j) { j["version"] = 9; });
  EXPECT_EQ(manifest_error(d), n + ": field 'version': unsupported version 9 (this lmforge reads 1)"
                                   " (hint: re-run lmforge prepare with this lmforge)");
  write_dataset(d, 2);
  edit_manifest(d, [](auto& j) { j["splits"]["train"]["shards"][1].erase("tokens"); });
  EXPECT_EQ(manifest_error(d), n + ": field 'splits.train.shards[1].tokens': missing" + hint);
  write_dataset(d, 2);
  edit_manifest(d, [](auto& j) { j["splits"]["val"]["tokens"] = 4; });
  EXPECT_EQ(manifest_error(d),
            n + ": field 'splits.val.tokens': says 4 but its shards hold 3" + hint);
  write_dataset(d, 2);
  edit_manifest(d, [](auto& j) { j["eot_id"] = "x"; });
  EXPECT_EQ(manifest_error(d),
            n + ": field 'eot_id': expected a non-negative integer, got \"x\"" + hint);
  write_dataset(d, 2);
  edit_manifest(d, [](auto& j) { j["splits"]["val"]["shards"][0]["file"] = "../x.bin"; });
  EXPECT_EQ(manifest_error(d), n +
                                   ": field 'splits.val.shards[0].file': expected a file name "
                                   "inside the data directory, got \"../x.bin\"" +
                                   hint);
  write_file_atomic(d / "manifest.json", "{\"format\": ");
  EXPECT_EQ(manifest_error(d), n + ": invalid JSON at byte 12" + hint);
  fs::remove_all(d);
}

TEST(TokenDataset, ReadsAcrossShards) {
  for (int width : {2, 4}) {
    fs::path d = fresh_dir("multi" + std::to_string(width));
    write_dataset(d, width);
    TokenDataset train = TokenDataset::open(d, "train");
    EXPECT_EQ(train.num_tokens(), 19u);
    EXPECT_EQ(train.num_shards(), 4u);
    std::vector<int32_t> all(19);
    train.read(0, 19, all.data());
    std::vector<int32_t> expect(19);
    std::iota(expect.begin(), expect.end(), 0);
    EXPECT_EQ(all, expect);
    // Every window, including ones spanning the empty shard and several shard boundaries.
    for (uint64_t pos = 0; pos <= 19; ++pos)
      for (size_t n = 0; pos + n <= 19; ++n) {
        std::vector<int32_t> w(n);
        train.read(pos, n, w.data());
        ASSERT_TRUE(std::equal(w.begin(), w.end(), expect.begin() + pos)) << pos << "+" << n;
      }
    int32_t one;
    EXPECT_THROW(train.read(19, 1, &one), RuntimeError);
    EXPECT_THROW(train.read(18, 2, &one), RuntimeError);
    TokenDataset val = TokenDataset::open(d, "val");
    std::vector<int32_t> v(3);
    val.read(0, 3, v.data());
    EXPECT_EQ(v, (std::vector<int32_t>{299, 1, 2}));
    EXPECT_EQ(val.manifest().tokenizer_hash, "abc123");
    EXPECT_THROW(TokenDataset::open(d, "test"), UsageError);
    fs::remove_all(d);
  }
}

TEST(TokenDataset, ShardDisagreeingWithManifestIsAnInputError) {
  fs::path d = fresh_dir("mismatch");
  write_dataset(d, 2);
  write_shard(d / "train-00002.bin", std::vector<int32_t>{1, 2}, 2);
  try {
    TokenDataset::open(d, "train");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              (d / "train-00002.bin").string() +
                  ": field 'count': shard holds 2 tokens but manifest.json says 11 (hint: re-run "
                  "lmforge prepare to regenerate the data directory)");
  }
  write_dataset(d, 2);
  write_shard(d / "val-00000.bin", std::vector<int32_t>{299, 1, 2}, 4);
  EXPECT_THROW(TokenDataset::open(d, "val"), InputError);
  fs::remove(d / "train-00003.bin");
  EXPECT_THROW(TokenDataset::open(d, "train"), InputError);
  fs::remove_all(d);
}

// Issue 13 item 17: an id outside the vocabulary is found when the split opens, and the error
// names the shard file and the token index (it surfaced as an unnamed failure deep in training).
TEST(TokenDataset, IdOutsideTheVocabularyNamesShardAndIndex) {
  for (int width : {2, 4}) {
    fs::path d = fresh_dir("oov" + std::to_string(width));
    write_dataset(d, width);
    write_shard(d / "train-00002.bin",
                std::vector<int32_t>{20, 21, 22, 23, 24, 25, 26, 300, 28, 29, 30}, width);
    try {
      TokenDataset::open(d, "train");
      FAIL() << "expected InputError";
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), (d / "train-00002.bin").string());
      EXPECT_EQ(e.field(), "token 7");
      EXPECT_NE(e.message().find("id 300"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(TokenDataset::open(d, "val"));
    fs::remove_all(d);
  }
}
