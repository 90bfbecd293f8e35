// metrics.jsonl writer (see metrics.h for the append/resume rules).
#include "lmforge/train/metrics.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace lmforge {
namespace fs = std::filesystem;

std::string to_json_line(const StepMetrics& m) {
  // Ordered keys so the file reads the same way on every line.
  nlohmann::ordered_json j;
  j["step"] = m.step;
  j["loss"] = m.loss;
  if (m.val_loss) j["val_loss"] = *m.val_loss;
  for (const auto& [k, v] : m.extra) j[k] = v;
  j["lr"] = m.lr;
  j["grad_norm"] = m.grad_norm;
  j["tokens_per_s"] = m.tokens_per_s;
  j["mfu"] = m.mfu;
  j["elapsed_s"] = m.elapsed_s;
  return j.dump();
}

MetricsLog::MetricsLog(fs::path path, int64_t keep_through_step) : path_(std::move(path)) {
  std::string kept;
  if (keep_through_step >= 0 && fs::exists(path_)) {
    std::istringstream in(read_file(path_));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.contains("step")) break;  // a partial last line
      if (j["step"].get<int64_t>() > keep_through_step) break;
      kept += line + "\n";
    }
  }
  write_file_atomic(path_, kept);
  f_ = std::fopen(path_.c_str(), "ab");
  if (!f_)
    throw RuntimeError("cannot open '" + path_.string() +
                       "' for appending: " + std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (f_) std::fclose(f_);
}

void MetricsLog::append(const StepMetrics& m) {
  std::string line = to_json_line(m) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0)
    throw RuntimeError("cannot write '" + path_.string() + "': " + std::strerror(errno));
}

}  // namespace lmforge
