// Safetensors: round trip of every engine dtype, F16/BF16 → f32 conversion, and corrupt files
// (each must be an InputError naming the tensor, never a crash or an out-of-bounds read; run
// under -DLMFORGE_SANITIZE=ON to have ASan prove the latter).
#include "lmforge/io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {
fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("lmforge-st-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Writes an 8-byte length (declared_len, or the real one when < 0), the header and data.
fs::path write_raw(const fs::path& p, const std::string& header, const std::string& data,
                   int64_t declared_len = -1) {
  uint64_t n = declared_len < 0 ? header.size() : uint64_t(declared_len);
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char(uint8_t(n >> (8 * i)));
  bytes += header + data;
  write_file_atomic(p, bytes);
  return p;
}

// Expects open() to fail with an InputError whose field is `field`.
void expect_bad(const fs::path& p, const std::string& field) {
  try {
    SafetensorsFile::open(p);
    ADD_FAILURE() << "no error for " << p;
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_EQ(e.file(), p.string());
  }
}
}  // namespace

TEST(Safetensors, RoundTripAllEngineDtypes) {
  fs::path d = fresh_dir("rt");
  std::vector<float> w = {1.5f, -2.25f, 3.0f, 0.0f, 1e-3f, 7.0f};
  std::vector<int32_t> ids = {1, -2, 300000};
  std::vector<uint16_t> h16, b16;
  for (float x : w) {
    h16.push_back(f32_to_f16(x));
    b16.push_back(f32_to_bf16(x));
  }
  save_safetensors(d / "m.safetensors",
                   {{"w", DType::kF32, {2, 3}, w.data()},
                    {"ids", DType::kI32, {3}, ids.data()},
                    {"h", DType::kF16, {3, 2}, h16.data()},
                    {"b", DType::kBF16, {6}, b16.data()},
                    {"empty", DType::kF32, {0, 4}, nullptr}},
                   {{"format", "pt"}});
  SafetensorsFile f = SafetensorsFile::open(d / "m.safetensors");
  EXPECT_EQ(f.names(), (std::vector<std::string>{"b", "empty", "h", "ids", "w"}));
  EXPECT_EQ(f.shape("w"), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.dtype("h"), DType::kF16);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  std::vector<float> out(6);
  f.read_f32("w", out.data(), 6);
  EXPECT_EQ(out, w);
  f.read_f32("h", out.data(), 6);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(out[i], w[i], std::abs(w[i]) * 1e-3 + 1e-7);
  EXPECT_EQ(out[1], -2.25f);  // exactly representable
  f.read_f32("b", out.data(), 6);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(out[i], w[i], std::abs(w[i]) * 8e-3);
  std::vector<int32_t> ids_back(3);
  f.read_i32("ids", ids_back.data(), 3);
  EXPECT_EQ(ids_back, ids);
  EXPECT_THROW(f.read_f32("ids", out.data(), 3), InputError);  // ints are not floats
  EXPECT_THROW(f.read_f32("w", out.data(), 5), InputError);    // wrong count
  EXPECT_THROW(f.shape("missing"), InputError);
  EXPECT_EQ(f.numel("empty"), 0u);
  // Header is 8-byte aligned so the data section starts aligned.
  std::ifstream in(d / "m.safetensors", std::ios::binary);
  uint64_t hlen = 0;
  in.read(reinterpret_cast<char*>(&hlen), 8);
  EXPECT_EQ(hlen % 8, 0u);
  EXPECT_THROW(save_safetensors(d / "dup.safetensors", {{"a", DType::kF32, {1}, w.data()},
                                                        {"a", DType::kF32, {1}, w.data()}}),
               UsageError);
  fs::remove_all(d);
}

// Tensors written through `fill` (a converted copy made as each is written, one shared buffer)
// come back as filled, between tensors read from memory, each filled once and in file order.
TEST(Safetensors, FilledTensorsAreWrittenInOrder) {
  fs::path d = fresh_dir("fill");
  std::vector<float> a = {1, 2, 3}, c = {7};
  std::vector<std::string> order;
  auto fill_with = [&](const std::string& name, std::vector<float> values) {
    return [&order, name, values](void* out) {
      order.push_back(name);
      std::memcpy(out, values.data(), values.size() * sizeof(float));
    };
  };
  save_safetensors(d / "f.safetensors",
                   {{"a", DType::kF32, {3}, a.data()},
                    {"big", DType::kF32, {2, 2}, nullptr, fill_with("big", {4, 5, 6, 8})},
                    {"c", DType::kF32, {1}, c.data()},
                    {"small", DType::kF32, {2}, nullptr, fill_with("small", {-1, -2})}});
  EXPECT_EQ(order, (std::vector<std::string>{"big", "small"}));
  SafetensorsFile f = SafetensorsFile::open(d / "f.safetensors");
  std::vector<float> out(4);
  f.read_f32("big", out.data(), 4);
  EXPECT_EQ(out, (std::vector<float>{4, 5, 6, 8}));
  out.resize(2);
  f.read_f32("small", out.data(), 2);
  EXPECT_EQ(out, (std::vector<float>{-1, -2}));
  out.resize(3);
  f.read_f32("a", out.data(), 3);
  EXPECT_EQ(out, a);
  out.resize(1);
  f.read_f32("c", out.data(), 1);
  EXPECT_EQ(out, c);
  fs::remove_all(d);
}

TEST(Safetensors, ReadsForeignF64AndI64) {
  fs::path d = fresh_dir("foreign");
  double x[2] = {0.5, -3.0};
  int64_t y[2] = {7, -1};
  std::string data(reinterpret_cast<char*>(x), 16);
  data += std::string(reinterpret_cast<char*>(y), 16);
  write_raw(d / "f.safetensors",
            R"({"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},)"
            R"("y":{"dtype":"I64","shape":[2],"data_offsets":[16,32]}})",
            data);
  SafetensorsFile f = SafetensorsFile::open(d / "f.safetensors");
  float xf[2];
  f.read_f32("x", xf, 2);
  EXPECT_EQ(xf[1], -3.0f);
  int32_t yi[2];
  f.read_i32("y", yi, 2);
  EXPECT_EQ(yi[0], 7);
  EXPECT_EQ(yi[1], -1);
  fs::remove_all(d);
}

TEST(Safetensors, CorruptFilesAreInputErrors) {
  fs::path d = fresh_dir("bad");
  const std::string data(16, '\0');
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  EXPECT_NO_THROW(SafetensorsFile::open(write_raw(d / "ok", ok, data)));

  write_file_atomic(d / "short", "abc");
  expect_bad(d / "short", "header");
  expect_bad(write_raw(d / "hlen", ok, data, 1 << 20), "header");        // beyond file
  expect_bad(write_raw(d / "hlen_max", ok, data, INT64_MAX), "header");  // absurd length
  expect_bad(write_raw(d / "json", "{\"a\": [1, 2", data), "header");    // not JSON
  expect_bad(write_raw(d / "arr", "[1,2]", data), "header");             // not an object
  expect_bad(
      write_raw(d / "range", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", data),
      "a");  // offsets beyond the data section
  expect_bad(write_raw(d / "overlap",
                       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                       data),
             "b");
  expect_bad(
      write_raw(d / "dtype", R"({"a":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}})", data),
      "a");
  expect_bad(
      write_raw(d / "size", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data),
      "a");  // byte size does not match the shape
  expect_bad(
      write_raw(d / "neg", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data),
      "a");
  expect_bad(write_raw(d / "huge",
                       R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],)"
                       R"("data_offsets":[0,8]}})",
                       data),
             "a");  // numel overflow must not wrap around
  expect_bad(
      write_raw(d / "rev", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data), "a");
  expect_bad(write_raw(d / "fields", R"({"a":{"dtype":"F32","shape":[2]}})", data), "a");
  try {
    SafetensorsFile::open(d / "does-not-exist");
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("does-not-exist"), std::string::npos);
  }
  fs::remove_all(d);
}

// parse() over a buffer of exactly n bytes (so ASan would see a read past it): every proper
// prefix of a valid file is an InputError, the whole file parses.
TEST(Safetensors, EveryTruncationIsAnInputError) {
  fs::path d = fresh_dir("trunc");
  std::vector<float> a = {1, 2, 3, 4};
  std::vector<uint16_t> b = {f32_to_bf16(1.5f), f32_to_bf16(-2.0f)};
  save_safetensors(d / "m.safetensors",
                   {{"a", DType::kF32, {2, 2}, a.data()}, {"b", DType::kBF16, {2}, b.data()}});
  const std::string full = read_file(d / "m.safetensors");
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<unsigned char> prefix(full.begin(), full.begin() + std::ptrdiff_t(n));
    EXPECT_THROW(SafetensorsFile::parse(prefix.data(), n, "prefix"), InputError) << n << " bytes";
  }
  std::vector<unsigned char> all(full.begin(), full.end());
  SafetensorsFile f = SafetensorsFile::parse(all.data(), all.size(), "whole");
  float out[2];
  f.read_f32("b", out, 2);
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(out[1], -2.0f);
  fs::remove_all(d);
}

// Adversarial inputs kept by the fuzz test (tests/fuzz/regressions/safetensors): each is refused
// with an InputError.
TEST(Safetensors, FuzzRegressionsAreRefused) {
  const fs::path dir = fs::path(LMFORGE_SOURCE_DIR) / "tests/fuzz/regressions/safetensors";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string b = read_file(e.path());
    EXPECT_THROW(SafetensorsFile::parse(reinterpret_cast<const unsigned char*>(b.data()), b.size(),
                                        e.path().string()),
                 InputError)
        << e.path();
    ++n;
  }
  EXPECT_GE(n, 5);
}
