// backend::machine_peak's cache file: written on the first call, read (not measured) on the next,
// keyed by CPU model + ISA + threads + precision; a malformed, foreign or wrong entry is ignored
// and the file rewritten; other machines' entries are kept; an unwritable place still gives the
// measurement; XDG_CACHE_HOME and HOME decide where it lives.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "lmforge/backend/isa.h"
#include "lmforge/backend/peak.h"
#include "lmforge/core/file_util.h"

namespace lmforge::backend {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormat = "lmforge peak cache 1";

// Sets (or unsets) an environment variable for the scope of a test.
class EnvVar {
 public:
  EnvVar(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  }
  ~EnvVar() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Every test: its own empty cache directory, one OpenMP thread (a cheap measurement).
class PeakCache : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lmforge-peak-cache-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    xdg_.emplace("XDG_CACHE_HOME", dir_.string());
    threads_ = omp_get_max_threads();
    omp_set_num_threads(1);
  }
  void TearDown() override {
    omp_set_num_threads(threads_);
    xdg_.reset();
    fs::remove_all(dir_);
  }
  fs::path file() const { return dir_ / "lmforge" / "peak.json"; }
  json read() const { return json::parse(read_file(file())); }
  void write(const std::string& text) const {
    fs::create_directories(file().parent_path());
    write_file_atomic(file(), text);
  }
  // The key and a valid entry for this machine at the active ISA with `threads`.
  static std::string key(Precision p, int threads = 1, std::optional<Isa> isa = {}) {
    return cpu_model() + "|" + isa_name(isa.value_or(active_isa())) + "|" +
           std::to_string(threads) + "|" + precision_name(p);
  }
  static json entry(Precision p, double gflops, int threads = 1, std::optional<Isa> isa = {}) {
    const Isa level = isa.value_or(active_isa());
    IsaCap c(level);
    return {{"cpu", cpu_model()},
            {"isa", isa_name(level)},
            {"threads", threads},
            {"precision", precision_name(p)},
            {"kernel", peak_kernel_name(peak_kernel(p))},
            {"gflops", gflops},
            {"measured_utc", "2026-01-01T00:00:00Z"}};
  }

  fs::path dir_;

 private:
  std::optional<EnvVar> xdg_;
  int threads_ = 1;
};

TEST_F(PeakCache, MeasuresAndWritesThenReads) {
  ASSERT_EQ(peak_cache_file(), file());
  const Peak first = machine_peak(Precision::fp32);
  EXPECT_FALSE(first.from_cache);
  EXPECT_GT(first.flops, 0);
  ASSERT_TRUE(fs::exists(file()));
  const json j = read();
  EXPECT_EQ(j.at("format"), kFormat);
  const json& e = j.at("peaks").at(key(Precision::fp32));
  EXPECT_DOUBLE_EQ(e.at("gflops").get<double>(), first.flops / 1e9);
  EXPECT_EQ(e.at("kernel"), peak_kernel_name(peak_kernel(Precision::fp32)));
  const Peak second = machine_peak(Precision::fp32);
  EXPECT_TRUE(second.from_cache);
  EXPECT_DOUBLE_EQ(second.flops, first.flops);
  EXPECT_EQ(second.kernel, first.kernel);
  // No temp file left behind by the atomic write.
  int files = 0;
  for (const auto& f : fs::directory_iterator(file().parent_path())) files += f.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(PeakCache, ReadsAValidEntryWithoutMeasuring) {
  write(
      json{{"format", kFormat}, {"peaks", {{key(Precision::bf16), entry(Precision::bf16, 1234.5)}}}}
          .dump());
  const Peak p = machine_peak(Precision::bf16);
  EXPECT_TRUE(p.from_cache);
  EXPECT_DOUBLE_EQ(p.flops, 1234.5e9);
  EXPECT_EQ(p.threads, 1);
  EXPECT_EQ(p.precision, Precision::bf16);
  EXPECT_NE(p.describe().find("cached"), std::string::npos);
}

TEST_F(PeakCache, KeyedByThreadsIsaAndPrecision) {
  json peaks = {{key(Precision::fp32, 2), entry(Precision::fp32, 1111, 2)},
                {key(Precision::bf16), entry(Precision::bf16, 2222)}};
  if (active_isa() > Isa::avx2)
    peaks[key(Precision::fp32, 1, Isa::avx2)] = entry(Precision::fp32, 3333, 1, Isa::avx2);
  write(json{{"format", kFormat}, {"peaks", peaks}}.dump());
  const Peak p = machine_peak(Precision::fp32);  // 1 thread, the active ISA: not in the file
  EXPECT_FALSE(p.from_cache);
  for (double g : {1111.0, 2222.0, 3333.0}) EXPECT_NE(p.flops, g * 1e9);
  // The others' entries survive the rewrite next to the new one.
  const json after = read().at("peaks");
  EXPECT_EQ(after.size(), peaks.size() + 1);
  EXPECT_EQ(after.at(key(Precision::bf16)).at("gflops"), 2222);
  if (active_isa() == Isa::avx2) GTEST_SKIP() << "active ISA is avx2: no lower level to key by";
  IsaCap cap(Isa::avx2);
  const Peak low = machine_peak(Precision::fp32);
  EXPECT_TRUE(low.from_cache);
  EXPECT_DOUBLE_EQ(low.flops, 3333e9);
}

TEST_F(PeakCache, MalformedFileIsMeasuredAndRewritten) {
  for (const std::string bad : {"{not json", "", "[1, 2, 3]", "{\"format\": 7}"}) {
    SCOPED_TRACE(bad);
    write(bad);
    const Peak p = machine_peak(Precision::fp32);
    EXPECT_FALSE(p.from_cache);
    const json j = read();
    EXPECT_EQ(j.at("format"), kFormat);
    EXPECT_DOUBLE_EQ(j.at("peaks").at(key(Precision::fp32)).at("gflops").get<double>(),
                     p.flops / 1e9);
    EXPECT_EQ(j.at("peaks").size(), 1u);
  }
}

TEST_F(PeakCache, ForeignFormatIsReplacedWhole) {
  // Another program's (or a future version's) file with what looks like our entry.
  write(json{{"format", "lmforge peak cache 99"},
             {"peaks", {{key(Precision::fp32), entry(Precision::fp32, 4444)}}}}
            .dump());
  const Peak p = machine_peak(Precision::fp32);
  EXPECT_FALSE(p.from_cache);
  EXPECT_NE(p.flops, 4444e9);
  EXPECT_EQ(read().at("format"), kFormat);
}

TEST_F(PeakCache, WrongEntriesAreMeasuredAgain) {
  const std::string k = key(Precision::fp32);
  json other = entry(Precision::fp32, 5555, 7);
  auto with = [&](const char* field, json value) {
    json e = entry(Precision::fp32, 1000);
    if (value.is_null())
      e.erase(field);
    else
      e[field] = value;
    return e;
  };
  for (const json& e : {with("gflops", -3), with("gflops", 0), with("gflops", "fast"),
                        with("gflops", nullptr), with("kernel", "vfmadd231ps xmm"),
                        with("cpu", "Some Other CPU"), with("threads", 3), json("not an object")}) {
    SCOPED_TRACE(e.dump());
    write(json{{"format", kFormat}, {"peaks", {{k, e}, {key(Precision::fp32, 7), other}}}}.dump());
    const Peak p = machine_peak(Precision::fp32);
    EXPECT_FALSE(p.from_cache);
    const json after = read().at("peaks");
    EXPECT_DOUBLE_EQ(after.at(k).at("gflops").get<double>(), p.flops / 1e9);
    EXPECT_EQ(after.at(key(Precision::fp32, 7)), other) << "another key's entry is kept";
  }
}

TEST_F(PeakCache, UnwritablePlaceStillMeasures) {
  write_file_atomic(dir_ / "a-file", "x");
  EnvVar xdg("XDG_CACHE_HOME", (dir_ / "a-file").string());  // .../a-file/lmforge: cannot exist
  const Peak p = machine_peak(Precision::fp32);
  EXPECT_FALSE(p.from_cache);
  EXPECT_GT(p.flops, 0);
}

TEST(PeakCacheFile, XdgThenHome) {
  {
    EnvVar xdg("XDG_CACHE_HOME", "/some/cache");
    EXPECT_EQ(peak_cache_file(), fs::path("/some/cache/lmforge/peak.json"));
  }
  EnvVar home("HOME", "/home/someone");
  for (std::optional<std::string> x : {std::optional<std::string>{}, std::optional<std::string>(""),
                                       std::optional<std::string>("relative/dir")}) {
    EnvVar xdg("XDG_CACHE_HOME", x);  // unset, empty or relative: the spec says use the default
    EXPECT_EQ(peak_cache_file(), fs::path("/home/someone/.cache/lmforge/peak.json"));
  }
  EnvVar no_home("HOME", std::nullopt);
  EnvVar no_xdg("XDG_CACHE_HOME", std::nullopt);
  EXPECT_TRUE(peak_cache_file().empty());
}

}  // namespace
}  // namespace lmforge::backend
