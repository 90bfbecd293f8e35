// Scoring a rankings or prompt/completion file with a reward model (reward_score.h).
#include "lmforge/train/reward_score.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/data/datasets.h"
#include "lmforge/loss/ranking.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Rankings when the first non-empty line has "responses" or "chosen"; a malformed first line is
// left to the dataset readers, which name the line and field.
bool looks_like_rankings(const fs::path& data) {
  std::ifstream f(data);
  if (!f) throw InputError(data.string(), 0, "", "cannot open the file");
  for (std::string line; std::getline(f, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, false);
    return j.is_object() && (j.contains("responses") || j.contains("chosen"));
  }
  return false;
}

}  // namespace

RewardScoreStats score_file(RewardModel& rm, const fs::path& data, std::ostream& out) {
  RewardScoreStats st;
  const int n_ctx = rm.config().n_ctx;
  std::vector<json> lines;
  if (looks_like_rankings(data)) {
    st.rankings = true;
    std::vector<EncodedRanking> rs =
        encode_rankings(data, read_rankings_jsonl(data), rm.renderer(), n_ctx);
    std::vector<std::vector<int32_t>> rows;
    for (const auto& r : rs)
      for (size_t k = 0; k < r.rows(); ++k) rows.push_back(r.row(k));
    std::vector<double> s = rm.score(rows);
    size_t at = 0;
    double right = 0;
    for (const auto& r : rs) {
      std::vector<double> mine(s.begin() + long(at), s.begin() + long(at + r.rows()));
      at += r.rows();
      PairAgreement a = pair_agreement(mine);
      right += a.accuracy * double(a.pairs);
      st.pairs += a.pairs;
      lines.push_back({{"line", r.line}, {"scores", mine}, {"pair_accuracy", a.accuracy}});
    }
    st.pair_accuracy = st.pairs ? right / double(st.pairs) : 0;
    st.rows = int64_t(rows.size());
    for (double x : s) st.mean_score += x / double(s.size());
  } else {
    std::vector<PromptCompletionExample> ex = read_prompt_completion_jsonl(data);
    std::vector<std::vector<int32_t>> rows;
    for (const auto& e : ex) {
      rows.push_back(rm.render(e.prompt, e.completion));
      if (int64_t(rows.back().size()) > n_ctx)
        throw InputError(data.string(), e.line, "completion",
                         "prompt + completion is " + std::to_string(rows.back().size()) +
                             " tokens, longer than the reward model's context of " +
                             std::to_string(n_ctx),
                         "shorten the example or drop it");
    }
    std::vector<double> s = rm.score(rows);
    for (size_t i = 0; i < ex.size(); ++i) {
      lines.push_back({{"line", ex[i].line}, {"score", s[i]}});
      st.mean_score += s[i] / double(s.size());
    }
    st.rows = int64_t(rows.size());
  }
  st.examples = int64_t(lines.size());
  for (const json& j : lines) out << j.dump() << "\n";
  out.flush();
  return st;
}

}  // namespace lmforge
