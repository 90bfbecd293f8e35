// Token shards: write/read round trips at both widths, and exact errors for damaged files.
#include "lmforge/data/shard.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <numeric>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {
fs::path fresh_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("lmforge-shard-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string input_error_text(const fs::path& path) {
  try {
    Shard::open(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

void patch(const fs::path& path, size_t offset, const void* bytes, size_t n) {
  std::string s = read_file(path);
  std::memcpy(s.data() + offset, bytes, n);
  write_file_atomic(path, s);
}
}  // namespace

TEST(Shard, WidthForVocab) {
  EXPECT_EQ(token_bytes_for_vocab(50257), 2);
  EXPECT_EQ(token_bytes_for_vocab(65536), 2);
  EXPECT_EQ(token_bytes_for_vocab(65537), 4);
  EXPECT_EQ(token_bytes_for_vocab(151936), 4);
}

TEST(Shard, RoundTripUint16) {
  fs::path d = fresh_dir("u16");
  std::vector<int32_t> ids = {0, 1, 255, 256, 50256, 65535, 7};
  write_shard(d / "a.bin", ids, 2);
  EXPECT_EQ(fs::file_size(d / "a.bin"), 32u + ids.size() * 2);
  // The header is the documented byte layout, not just whatever our reader accepts.
  std::string raw = read_file(d / "a.bin");
  EXPECT_EQ(raw.substr(0, 8), "LMFSHARD");
  EXPECT_EQ(raw.substr(8, 8), std::string("\x01\0\0\0\x02\0\0\0", 8));
  EXPECT_EQ(raw.substr(16, 16), std::string("\x07\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16));
  EXPECT_EQ(raw.substr(32 + 2 * 4, 2), std::string("\x50\xc4", 2));  // 50256 = 0xC450

  Shard s = Shard::open(d / "a.bin");
  EXPECT_EQ(s.size(), ids.size());
  EXPECT_EQ(s.token_bytes(), 2);
  std::vector<int32_t> back(ids.size());
  s.read(0, ids.size(), back.data());
  EXPECT_EQ(back, ids);
  std::vector<int32_t> mid(3);
  s.read(3, 3, mid.data());
  EXPECT_EQ(mid, (std::vector<int32_t>{256, 50256, 65535}));
  EXPECT_EQ(s.at(6), 7);
  EXPECT_THROW(s.read(5, 3, mid.data()), RuntimeError);
  fs::remove_all(d);
}

TEST(Shard, RoundTripUint32AndMove) {
  fs::path d = fresh_dir("u32");
  std::vector<int32_t> ids(100000);
  std::iota(ids.begin(), ids.end(), 100000);  // ids above 65535 need 4 bytes
  write_shard(d / "b.bin", ids, 4);
  Shard s = Shard::open(d / "b.bin");
  Shard moved = std::move(s);
  EXPECT_EQ(moved.size(), ids.size());
  EXPECT_EQ(moved.token_bytes(), 4);
  std::vector<int32_t> back(ids.size());
  moved.read(0, ids.size(), back.data());
  EXPECT_EQ(back, ids);
  fs::remove_all(d);
}

TEST(Shard, EmptyShardIsValid) {
  fs::path d = fresh_dir("empty");
  write_shard(d / "e.bin", {}, 2);
  EXPECT_EQ(Shard::open(d / "e.bin").size(), 0u);
  fs::remove_all(d);
}

TEST(Shard, WriteRejectsIdsThatDoNotFitAndLeavesNoFile) {
  fs::path d = fresh_dir("toowide");
  std::vector<int32_t> ids = {1, 70000};
  EXPECT_THROW(write_shard(d / "x.bin", ids, 2), RuntimeError);
  std::vector<int32_t> neg = {-1};
  EXPECT_THROW(write_shard(d / "x.bin", neg, 4), RuntimeError);
  EXPECT_THROW(write_shard(d / "x.bin", ids, 3), RuntimeError);
  EXPECT_TRUE(fs::is_empty(d));
  fs::remove_all(d);
}

TEST(Shard, CorruptFilesGiveExactInputErrors) {
  fs::path d = fresh_dir("corrupt");
  std::vector<int32_t> ids = {1, 2, 3, 4};
  const fs::path p = d / "s.bin";
  const std::string n = p.string();

  write_shard(p, ids, 2);
  patch(p, 0, "LMFSHARX", 8);
  EXPECT_EQ(input_error_text(p),
            n + ": field 'magic': expected \"LMFSHARD\", got \"LMFSHARX\" (hint: the file is "
                "damaged or not a token shard; re-run lmforge prepare)");

  write_shard(p, ids, 2);
  uint32_t v2 = 2;
  patch(p, 8, &v2, 4);
  EXPECT_EQ(input_error_text(p),
            n + ": field 'version': unsupported shard version 2 (this lmforge reads version 1) "
                "(hint: re-run lmforge prepare with this lmforge)");

  write_shard(p, ids, 2);
  uint32_t w3 = 3;
  patch(p, 12, &w3, 4);
  EXPECT_EQ(input_error_text(p),
            n + ": field 'token_bytes': must be 2 or 4, got 3 (hint: the file is damaged or not "
                "a token shard; re-run lmforge prepare)");

  write_shard(p, ids, 2);
  fs::resize_file(p, 32 + 7);  // truncated mid-token
  EXPECT_EQ(input_error_text(p),
            n + ": field 'count': header says 4 tokens (32 + 4*2 bytes) but the file has 39 "
                "bytes (hint: the file is truncated or damaged; re-run lmforge prepare)");

  fs::resize_file(p, 20);
  EXPECT_EQ(input_error_text(p),
            n + ": field 'header': file is 20 bytes, shorter than the 32-byte shard header "
                "(hint: the file is damaged or not a token shard; re-run lmforge prepare)");

  write_file_atomic(p, std::string(40, '\x01'));
  EXPECT_EQ(input_error_text(p),
            n + ": field 'magic': expected \"LMFSHARD\", got "
                "\"\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\" (hint: the file is damaged or not a "
                "token shard; re-run lmforge prepare)");

  EXPECT_EQ(input_error_text(d / "missing.bin"),
            (d / "missing.bin").string() +
                ": cannot open token shard: No such file or directory (hint: check the path; "
                "shards are written by lmforge prepare)");
  fs::remove_all(d);
}
