// RUN/metrics.jsonl: one JSON object per optimizer step with the keys step, loss, lr, grad_norm,
// tokens_per_s, mfu, elapsed_s (+ val_loss when measured, + a stage's own keys). Lines are appended
// and flushed per step (a crash can leave at most one partial last line); on resume the file is
// rewritten atomically with only the lines up to the checkpoint's step, so a resumed run's file
// reads as the uninterrupted run's. Not here: TensorBoard/W&B writers, aggregation.
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lmforge {

struct StepMetrics {
  int64_t step = 0;
  double loss = 0, lr = 0, grad_norm = 0, tokens_per_s = 0, mfu = 0, elapsed_s = 0;
  std::optional<double> val_loss;
  std::map<std::string, double>
      extra;  // stage metrics (e.g. "general_val_loss", "kl"), after val_loss
};

std::string to_json_line(const StepMetrics& m);  // no trailing newline

class MetricsLog {
 public:
  // keep_through_step < 0: start a fresh file; otherwise keep existing lines whose step is
  // <= keep_through_step (dropping a partial line) and append after them.
  MetricsLog(std::filesystem::path path, int64_t keep_through_step);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void append(const StepMetrics& m);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::FILE* f_ = nullptr;
};

}  // namespace lmforge
