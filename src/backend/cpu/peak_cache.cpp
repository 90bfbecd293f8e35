// backend::machine_peak: the measured peak (peak.cpp) kept per machine in a small JSON file, so
// that every training run of a machine divides by the same number and pays the 0.3 s once.
// The file: {"format": "lmforge peak cache 1", "peaks": {KEY: ENTRY, ...}} with
// KEY = "<cpu model>|<isa>|<threads>|<precision>" and ENTRY = {"cpu", "isa", "threads",
// "precision", "kernel", "gflops", "measured_utc"}. An entry counts only when all of its fields
// match the key and the instruction peak_kernel() would run today, and gflops is a positive finite
// number; anything else is measured again and the file rewritten atomically (write_file_atomic).
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "lmforge/backend/peak.h"
#include "lmforge/core/file_util.h"

namespace lmforge::backend {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "lmforge peak cache 1";

std::string cache_key(const Peak& p, const std::string& cpu) {
  return cpu + "|" + isa_name(p.isa) + "|" + std::to_string(p.threads) + "|" +
         precision_name(p.precision);
}

// The file's entries when it is one of ours, else an empty object (a foreign or broken file is
// replaced as a whole).
json read_entries(const fs::path& file) {
  std::error_code ec;
  if (file.empty() || !fs::is_regular_file(file, ec)) return json::object();
  try {
    json j = json::parse(read_file(file));
    if (j.is_object() && j.value("format", "") == kFormat && j.contains("peaks") &&
        j["peaks"].is_object())
      return j["peaks"];
  } catch (const std::exception&) {
  }
  return json::object();
}

bool entry_matches(const json& e, const Peak& want, const std::string& cpu) {
  if (!e.is_object()) return false;
  try {
    const double gflops = e.at("gflops").get<double>();
    return std::isfinite(gflops) && gflops > 0 && e.at("cpu").get<std::string>() == cpu &&
           e.at("isa").get<std::string>() == isa_name(want.isa) &&
           e.at("threads").get<int>() == want.threads &&
           e.at("precision").get<std::string>() == precision_name(want.precision) &&
           e.at("kernel").get<std::string>() == peak_kernel_name(want.kernel);
  } catch (const std::exception&) {
    return false;
  }
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

fs::path peak_cache_file() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg && fs::path(xdg).is_absolute()) return fs::path(xdg) / "lmforge" / "peak.json";
  const char* home = std::getenv("HOME");
  if (home && *home) return fs::path(home) / ".cache" / "lmforge" / "peak.json";
  return {};
}

Peak machine_peak(Precision p) {
  Peak want;
  want.precision = p;
  want.isa = active_isa();
  want.kernel = peak_kernel(p);
  want.threads = omp_get_max_threads();
  const std::string cpu = cpu_model();
  const std::string key = cache_key(want, cpu);
  const fs::path file = peak_cache_file();
  json entries = read_entries(file);
  if (entries.contains(key) && entry_matches(entries[key], want, cpu)) {
    want.flops = entries[key]["gflops"].get<double>() * 1e9;
    want.from_cache = true;
    return want;
  }
  Peak got = measure_peak(p);
  if (file.empty()) return got;
  entries[cache_key(got, cpu)] = {{"cpu", cpu},
                                  {"isa", isa_name(got.isa)},
                                  {"threads", got.threads},
                                  {"precision", precision_name(got.precision)},
                                  {"kernel", peak_kernel_name(got.kernel)},
                                  {"gflops", got.flops / 1e9},
                                  {"measured_utc", utc_now()}};
  try {
    fs::create_directories(file.parent_path());
    write_file_atomic(file, json{{"format", kFormat}, {"peaks", entries}}.dump(2) + "\n");
  } catch (const std::exception&) {
    // A read-only home or a full disk: the measurement stands, the next run measures again.
  }
  return got;
}

}  // namespace lmforge::backend
