// GGUF container: write → read gives identical metadata (every value type) and tensor bytes,
// offsets aligned to 32, Q8_0 equal to ggml's reference quantizer; corrupt files (every
// truncation, bad counts, offsets out of range, unknown types, overlap, misalignment) are
// InputErrors naming the field; the fuzzers' saved crashers stay fixed.
#include "lmforge/io/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/tensor.h"
#include "support/tmp_files.h"

using namespace lmforge;
namespace fs = std::filesystem;

namespace {

GgufMetadata sample_metadata() {
  GgufMetadata kv;
  kv.emplace_back("general.architecture", GgufValue::str("llama"));
  kv.emplace_back("general.alignment", GgufValue::u32(32));
  GgufValue v;
  v.type = GgufType::kU8, v.u = 200;
  kv.emplace_back("t.u8", v);
  v = {};
  v.type = GgufType::kI8, v.i = -100;
  kv.emplace_back("t.i8", v);
  v = {};
  v.type = GgufType::kU16, v.u = 60000;
  kv.emplace_back("t.u16", v);
  v = {};
  v.type = GgufType::kI16, v.i = -30000;
  kv.emplace_back("t.i16", v);
  kv.emplace_back("t.u32", GgufValue::u32(4000000000u));
  kv.emplace_back("t.i32", GgufValue::i32(-2000000000));
  kv.emplace_back("t.f32", GgufValue::f32(0.1f));
  kv.emplace_back("t.bool", GgufValue::boolean(true));
  kv.emplace_back("t.str", GgufValue::str(std::string("h\0llo ĠGGUF", 12)));
  kv.emplace_back("t.u64", GgufValue::u64(1ull << 60));
  v = {};
  v.type = GgufType::kI64, v.i = -(1ll << 60);
  kv.emplace_back("t.i64", v);
  v = {};
  v.type = GgufType::kF64, v.f = 1.0 / 3.0;
  kv.emplace_back("t.f64", v);
  kv.emplace_back("t.strings", GgufValue::strings({"a", "", "Ġb c"}));
  kv.emplace_back("t.i32s", GgufValue::i32s({1, -2, 3}));
  kv.emplace_back("t.empty", GgufValue::f32s({}));
  GgufValue nested;
  nested.type = GgufType::kArray, nested.elem = GgufType::kArray;
  nested.arr = {GgufValue::i32s({1}), GgufValue::i32s({2, 3})};
  kv.emplace_back("t.nested", nested);
  return kv;
}

std::string bytes_of(const fs::path& p) {
  return read_file(p);
}

std::string put_u64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char(v >> (8 * i));
  return s;
}

std::string put_u32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[size_t(i)] = char(v >> (8 * i));
  return s;
}

std::string put_str(const std::string& s) {
  return put_u64(s.size()) + s;
}

// A hand-made file: header + n tensor infos (name, dims, type, offset) + data_bytes of data.
std::string hand_file(
    const std::vector<std::tuple<std::string, std::vector<uint64_t>, uint32_t, uint64_t>>& infos,
    size_t data_bytes) {
  std::string f = "GGUF" + put_u32(3) + put_u64(infos.size()) + put_u64(0);
  for (const auto& [name, ne, type, off] : infos) {
    f += put_str(name) + put_u32(uint32_t(ne.size()));
    for (uint64_t d : ne) f += put_u64(d);
    f += put_u32(type) + put_u64(off);
  }
  while (f.size() % 32) f.push_back('\0');
  return f + std::string(data_bytes, '\x01');
}

std::string error_field(const std::string& bytes) {
  const fs::path p = write_tmp("bad.gguf", bytes);
  try {
    GgufFile::open(p);
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), p.string());
    EXPECT_FALSE(e.message().empty());
    return e.field();
  }
  return "<no error>";
}

}  // namespace

TEST(Gguf, MetadataAndTensorsRoundTrip) {
  fs::create_directories(tmp_dir());
  const fs::path p = tmp_dir() / "rt.gguf";
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> a(3 * 64), b(5);
  for (float& x : a) x = nd(rng);
  for (float& x : b) x = nd(rng);
  auto f16 = ggml_from_f32(GgmlType::kF16, a.data(), a.size());
  auto bf16 = ggml_from_f32(GgmlType::kBF16, a.data(), a.size());
  auto q8 = ggml_from_f32(GgmlType::kQ8_0, a.data(), a.size());
  const GgufMetadata kv = sample_metadata();
  write_gguf(p, kv,
             {{"w.f32", GgmlType::kF32, {64, 3}, a.data()},
              {"b.f32", GgmlType::kF32, {5}, b.data()},
              {"w.f16", GgmlType::kF16, {64, 3}, f16.data()},
              {"w.bf16", GgmlType::kBF16, {64, 3}, bf16.data()},
              {"w.q8", GgmlType::kQ8_0, {64, 3}, q8.data()}});
  GgufFile g = GgufFile::open(p);
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), 32u);
  ASSERT_EQ(g.metadata().size(), kv.size());
  for (size_t i = 0; i < kv.size(); ++i) {
    EXPECT_EQ(g.metadata()[i].first, kv[i].first);
    EXPECT_TRUE(g.metadata()[i].second == kv[i].second) << kv[i].first;
  }
  EXPECT_EQ(g.get("t.i8").i, -100);
  EXPECT_EQ(g.get("t.str").s.size(), 12u);
  ASSERT_EQ(g.tensors().size(), 5u);
  for (const auto& t : g.tensors()) EXPECT_EQ(t.offset % 32, 0u) << t.name;
  EXPECT_EQ(std::memcmp(g.raw("w.f32"), a.data(), a.size() * 4), 0);
  EXPECT_EQ(std::memcmp(g.raw("w.q8"), q8.data(), q8.size()), 0);
  EXPECT_EQ(g.tensor("w.q8").nbytes, 6u * 34u);
  EXPECT_EQ(g.tensor("w.f16").ne, (std::vector<int64_t>{64, 3}));
  std::vector<float> back(a.size());
  g.read_f32("w.bf16", back.data(), back.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(back[i], a[i], std::fabs(a[i]) / 128 + 1e-30);
  g.read_f32("w.q8", back.data(), back.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(back[i], a[i], 0.03);
  // The tensor data section starts aligned and the file ends at the last tensor's padded end.
  EXPECT_EQ(fs::file_size(p) % 32, 0u);
  EXPECT_THROW(g.read_f32("w.q8", back.data(), 3), InputError);
  EXPECT_THROW(g.get("no.such.key"), InputError);
}

TEST(Gguf, Q8_0MatchesGgmlReferenceBlock) {
  // One block: 0..31 scaled; ggml: d = 31/127, q = round(x / d).
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[size_t(i)] = float(i) - 16.0f;  // max |x| = 16
  auto q = ggml_from_f32(GgmlType::kQ8_0, x.data(), 32);
  ASSERT_EQ(q.size(), 34u);
  uint16_t dh;
  std::memcpy(&dh, q.data(), 2);
  EXPECT_EQ(dh, f32_to_f16(16.0f / 127.0f));
  EXPECT_EQ(int8_t(q[2]), -127);      // -16 → -127
  EXPECT_EQ(int8_t(q[2 + 16]), 0);    // 0
  EXPECT_EQ(int8_t(q[2 + 17]), 8);    // 1 / (16/127) = 7.94 → 8
  EXPECT_EQ(int8_t(q[2 + 31]), 119);  // 15 * 127/16 = 119.06 → 119
  std::vector<float> zeros(32, 0.0f);
  auto z = ggml_from_f32(GgmlType::kQ8_0, zeros.data(), 32);
  for (unsigned char c : z) EXPECT_EQ(c, 0);
}

TEST(Gguf, WriterRefusesBadInput) {
  fs::create_directories(tmp_dir());
  float x[4] = {};
  GgufMetadata dup = {{"a", GgufValue::u32(1)}, {"a", GgufValue::u32(2)}};
  EXPECT_THROW(write_gguf(tmp_dir() / "x.gguf", dup, {}), UsageError);
  EXPECT_THROW(write_gguf(tmp_dir() / "x.gguf", {}, {{"t", GgmlType::kQ8_0, {4}, x}}), UsageError);
  EXPECT_THROW(write_gguf(tmp_dir() / "x.gguf", {{"general.alignment", GgufValue::u32(3)}}, {}),
               UsageError);
}

TEST(Gguf, EveryTruncationIsAnInputError) {
  fs::create_directories(tmp_dir());
  const fs::path p = tmp_dir() / "full.gguf";
  std::vector<float> a(64, 1.5f);
  write_gguf(p, sample_metadata(), {{"w", GgmlType::kF32, {32, 2}, a.data()}});
  const std::string full = bytes_of(p);
  int errors = 0;
  for (size_t n = 0; n < full.size(); ++n) {
    // A copy of exactly n bytes, so that the sanitizer build would catch a read past it.
    std::vector<unsigned char> prefix(full.begin(), full.begin() + std::ptrdiff_t(n));
    try {
      GgufFile::parse(prefix.data(), n, "prefix");
      ADD_FAILURE() << "prefix of " << n << " bytes was accepted";
    } catch (const InputError& e) {
      EXPECT_FALSE(e.field().empty() && e.message().empty());
      ++errors;
    }
  }
  EXPECT_EQ(size_t(errors), full.size());
}

TEST(Gguf, CorruptFilesNameTheProblem) {
  // Magic, version.
  EXPECT_EQ(error_field("GGUX" + put_u32(3) + put_u64(0) + put_u64(0)), "magic");
  EXPECT_EQ(error_field("GGUF" + put_u32(9) + put_u64(0) + put_u64(0)), "version");
  // Counts far beyond what the file could hold.
  EXPECT_EQ(error_field("GGUF" + put_u32(3) + put_u64(0) + put_u64(1ull << 62)), "kv_count");
  EXPECT_EQ(error_field("GGUF" + put_u32(3) + put_u64(1ull << 62) + put_u64(0)), "tensor_count");
  // A string length beyond the file.
  EXPECT_EQ(error_field("GGUF" + put_u32(3) + put_u64(0) + put_u64(1) + put_u64(1ull << 40) + "k" +
                        std::string(16, '\0')),
            "kv[0].key");
  // Unknown value type, bad bool, array longer than the file.
  EXPECT_EQ(error_field("GGUF" + put_u32(3) + put_u64(0) + put_u64(1) + put_str("k") + put_u32(77) +
                        std::string(16, '\0')),
            "k");
  EXPECT_EQ(error_field("GGUF" + put_u32(3) + put_u64(0) + put_u64(1) + put_str("k") + put_u32(7) +
                        "\x05" + std::string(16, '\0')),
            "k");
  EXPECT_EQ(error_field("GGUF" + put_u32(3) + put_u64(0) + put_u64(1) + put_str("k") + put_u32(9) +
                        put_u32(4) + put_u64(1ull << 50) + std::string(16, '\0')),
            "k");
  // Alignment that is not a power of two.
  EXPECT_EQ(
      error_field("GGUF" + put_u32(3) + put_u64(0) + put_u64(1) + put_str("general.alignment") +
                  put_u32(4) + put_u32(48) + std::string(16, '\0')),
      "general.alignment");
  // Tensor infos: offset out of range, unknown type, too many dims, misaligned, overlapping,
  // Q8_0 row not a multiple of 32, element count overflow, duplicate names.
  EXPECT_EQ(error_field(hand_file({{"w", {8}, 0, 32}}, 32)), "w");
  EXPECT_EQ(error_field(hand_file({{"w", {8}, 0, 0}}, 31)), "w");
  EXPECT_EQ(error_field(hand_file({{"w", {8}, 2, 0}}, 64)), "w");
  EXPECT_EQ(error_field(hand_file({{"w", {1, 1, 1, 1, 1}, 0, 0}}, 64)), "w");
  EXPECT_EQ(error_field(hand_file({{"w", {}, 0, 0}}, 64)), "w");
  EXPECT_EQ(error_field(hand_file({{"w", {8}, 0, 4}}, 64)), "w");
  EXPECT_EQ(error_field(hand_file({{"a", {16}, 0, 0}, {"b", {8}, 0, 32}}, 96)), "b");
  EXPECT_EQ(error_field(hand_file({{"w", {16}, 8, 0}}, 64)), "w");
  EXPECT_EQ(error_field(hand_file({{"w", {1ull << 40, 1ull << 40}, 0, 0}}, 64)), "w");
  EXPECT_EQ(error_field(hand_file({{"w", {8}, 0, 0}, {"w", {8}, 0, 32}}, 64)), "w");
  // A well-formed hand file is accepted.
  EXPECT_EQ(error_field(hand_file({{"a", {8}, 0, 0}, {"b", {8}, 0, 32}}, 64)), "<no error>");
}

// Adversarial inputs kept by the fuzz test (tests/fuzz/regressions/gguf): each is refused with an
// InputError (never a crash, a huge allocation or a read past the buffer).
TEST(Gguf, FuzzRegressionsAreRefused) {
  const fs::path dir = fs::path(LMFORGE_SOURCE_DIR) / "tests/fuzz/regressions/gguf";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string b = read_file(e.path());
    EXPECT_THROW(
        GgufFile::parse(reinterpret_cast<const unsigned char*>(b.data()), b.size(), e.path()),
        InputError)
        << e.path();
    ++n;
  }
  EXPECT_GE(n, 5);
}
