// A stand-in machine peak for training tests: points XDG_CACHE_HOME at a scratch directory whose
// peak.json (backend/peak.h's cache) holds the given GFLOP/s for this CPU at the active ISA,
// `threads` threads and each precision, so a run divides by known numbers and measures nothing.
// Restores XDG_CACHE_HOME when it goes out of scope.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "lmforge/backend/isa.h"
#include "lmforge/backend/peak.h"
#include "lmforge/core/file_util.h"

namespace test_peak {

class FakePeak {
 public:
  FakePeak(const std::filesystem::path& dir, int threads,
           const std::map<lmforge::backend::Precision, double>& gflops) {
    using namespace lmforge::backend;
    if (const char* old = std::getenv("XDG_CACHE_HOME")) old_ = old;
    nlohmann::json peaks = nlohmann::json::object();
    const std::string cpu = cpu_model();
    for (const auto& [p, g] : gflops)
      peaks[cpu + "|" + isa_name(active_isa()) + "|" + std::to_string(threads) + "|" +
            precision_name(p)] = {{"cpu", cpu},
                                  {"isa", isa_name(active_isa())},
                                  {"threads", threads},
                                  {"precision", precision_name(p)},
                                  {"kernel", peak_kernel_name(peak_kernel(p))},
                                  {"gflops", g}};
    std::filesystem::create_directories(dir / "lmforge");
    lmforge::write_file_atomic(
        dir / "lmforge" / "peak.json",
        nlohmann::json{{"format", "lmforge peak cache 1"}, {"peaks", peaks}}.dump());
    setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  }
  ~FakePeak() {
    if (old_)
      setenv("XDG_CACHE_HOME", old_->c_str(), 1);
    else
      unsetenv("XDG_CACHE_HOME");
  }
  FakePeak(const FakePeak&) = delete;
  FakePeak& operator=(const FakePeak&) = delete;

 private:
  std::optional<std::string> old_;
};

}  // namespace test_peak
