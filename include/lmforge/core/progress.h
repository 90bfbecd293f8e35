// Progress reporting for long work. On a terminal (stderr is a TTY) it redraws one line:
//   label [#########.........] 45% 450/1000 | loss 3.21 | 1.2k tok/s | ETA 1m20s
// Otherwise it prints a plain log line at most every `log_interval_s` seconds and at the end,
// so logs in files and CI stay readable.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace lmforge {

class Progress {
 public:
  // total <= 0 means unknown total (no bar or ETA, only counts and rates).
  Progress(std::string label, int64_t total, std::string unit = "", double log_interval_s = 10.0);
  ~Progress();
  // Reports `done` units complete; `extra` is appended (e.g. "loss 3.21 | 1.2k tok/s").
  void update(int64_t done, const std::string& extra = "");
  // Prints the final state and a newline (called by the destructor if not called before).
  void finish(const std::string& extra = "");
  // Prints a message without garbling the bar (the bar is redrawn on the next update).
  void note(const std::string& message);
  bool is_tty() const { return tty_; }

  static std::string format_duration(double seconds);  // "1h02m", "3m20s", "12s"
  static std::string format_count(double x);           // "950", "12.3k", "4.56M"

 private:
  void draw(bool final_line);
  std::string label_, unit_, extra_;
  int64_t total_, done_ = 0, start_done_ = 0;
  double log_interval_s_;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace lmforge
