// metrics.jsonl: keys per line, and truncation to the checkpoint step on resume.
#include "lmforge/train/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/core/file_util.h"

namespace fs = std::filesystem;
using namespace lmforge;

TEST(Metrics, KeysAndResumeTruncation) {
  fs::path d = fs::temp_directory_path() / ("lmforge-metrics-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  fs::path p = d / "metrics.jsonl";
  {
    MetricsLog log(p, -1);
    for (int s = 1; s <= 5; ++s) {
      StepMetrics m;
      m.step = s;
      m.loss = 1.0 / s;
      m.lr = 0.1;
      m.grad_norm = 2;
      m.tokens_per_s = 10;
      m.mfu = 0.5;
      m.elapsed_s = s;
      if (s == 3) m.val_loss = 0.7;
      log.append(m);
    }
  }
  { std::ofstream(p, std::ios::app) << "{\"step\": 6, \"lo"; }  // a torn last line
  std::string text = read_file(p);
  auto first = nlohmann::json::parse(text.substr(0, text.find('\n')));
  for (const char* k : {"step", "loss", "lr", "grad_norm", "tokens_per_s", "mfu", "elapsed_s"})
    EXPECT_TRUE(first.contains(k)) << k;
  EXPECT_FALSE(first.contains("val_loss"));
  EXPECT_DOUBLE_EQ(first["loss"].get<double>(), 1.0);
  {
    MetricsLog log(p, 3);  // resume from the step-3 checkpoint
    StepMetrics m;
    m.step = 4;
    m.loss = 9;
    log.append(m);
  }
  std::istringstream in(read_file(p));
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_DOUBLE_EQ(rows[2]["val_loss"].get<double>(), 0.7);
  EXPECT_EQ(rows[3]["step"], 4);
  EXPECT_DOUBLE_EQ(rows[3]["loss"].get<double>(), 9.0);
  { MetricsLog fresh(p, -1); }
  EXPECT_EQ(read_file(p), "");
  fs::remove_all(d);
}
