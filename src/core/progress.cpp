// Terminal progress bar with ETA, and plain periodic lines when not on a terminal.
#include "lmforge/core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace lmforge {

Progress::Progress(std::string label, int64_t total, std::string unit, double log_interval_s)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      log_interval_s_(log_interval_s),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::hours(1)) {}

Progress::~Progress() {
  if (!finished_) finish();
}

std::string Progress::format_duration(double s) {
  if (s < 0 || s != s) return "?";
  char buf[32];
  long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

std::string Progress::format_count(double x) {
  char buf[32];
  if (x >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2fG", x / 1e9);
  else if (x >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", x / 1e6);
  else if (x >= 1e4)
    std::snprintf(buf, sizeof buf, "%.1fk", x / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", x);
  return buf;
}

void Progress::update(int64_t done, const std::string& extra) {
  done_ = done;
  extra_ = extra;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.1 : log_interval_s_)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::note(const std::string& message) {
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", message.c_str());
  last_draw_ = std::chrono::steady_clock::now() - std::chrono::hours(1);
}

void Progress::finish(const std::string& extra) {
  if (finished_) return;
  if (!extra.empty()) extra_ = extra;
  draw(true);
  finished_ = true;
}

void Progress::draw(bool final_line) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = label_;
  if (total_ > 0) {
    double frac = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    if (tty_) {
      const int width = 24;
      int fill = static_cast<int>(frac * width);
      line.append(" [").append(fill, '#').append(width - fill, '.').append("]");
    }
    char pct[16];
    std::snprintf(pct, sizeof pct, " %3.0f%%", frac * 100.0);
    line += pct;
    line += " " + std::to_string(done_) + "/" + std::to_string(total_);
  } else {
    line += " " + format_count(static_cast<double>(done_));
  }
  if (!unit_.empty()) line += " " + unit_;
  if (!extra_.empty()) line += " | " + extra_;
  if (final_line) {
    line += " | " + format_duration(elapsed);
  } else if (total_ > 0 && done_ > 0 && elapsed > 0) {
    double rate = static_cast<double>(done_) / elapsed;
    line += " | ETA " + format_duration(static_cast<double>(total_ - done_) / rate);
  }
  if (tty_)
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace lmforge
