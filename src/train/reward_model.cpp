// Reward model scoring head and loading (reward_model.h).
#include "lmforge/train/reward_model.h"

#include <algorithm>
#include <cmath>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/rng.h"
#include "lmforge/io/safetensors.h"
#include "lmforge/model/lora.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

void ScoreHead::init(uint64_t seed) {
  Rng rng(seed_for(seed, "score.weight"));
  // Small (HF's initializer_range 0.02, TRL's reward head): the first scores are ~0, so the
  // ranking loss starts at its uninformed value and the first updates mostly train the head on
  // the instruct model's features instead of pushing random preferences into the trunk.
  const double sd = 0.02;
  for (int c = 0; c < C_; ++c) p_[size_t(c)] = float(rng.normal() * sd);
  p_[size_t(C_)] = 0.0f;
}

TrainableGroup ScoreHead::group() {
  TrainableGroup g;
  g.prefix = "score.";
  g.params = p_.data();
  g.grads = g_.data();
  g.numel = p_.size();
  g.segments = {{"weight", {1, C_}, 0, size_t(C_), true}, {"bias", {1}, size_t(C_), 1, false}};
  return g;
}

void ScoreHead::save(const fs::path& file) const {
  save_safetensors(file,
                   {{"score.weight", DType::kF32, {1, C_}, p_.data()},
                    {"score.bias", DType::kF32, {1}, p_.data() + C_}},
                   {{"format", kRewardFormat}});
}

ScoreHead ScoreHead::load(const fs::path& file, int C) {
  ScoreHead h(C);
  h.read(file);
  return h;
}

void ScoreHead::read(const fs::path& file) {
  SafetensorsFile f = SafetensorsFile::open(file);
  const int C = C_;
  const std::vector<int64_t> ws = f.shape("score.weight"), bs = f.shape("score.bias");
  if (ws != std::vector<int64_t>{1, C})
    throw InputError(file.string(), 0, "score.weight",
                     "has shape [" + std::to_string(ws.size() == 2 ? ws[0] : -1) + ", " +
                         std::to_string(ws.size() == 2 ? ws[1] : -1) + "], expected [1, " +
                         std::to_string(C) + "] for this model's hidden size",
                     "the head belongs to another model");
  if (bs != std::vector<int64_t>{1})
    throw InputError(file.string(), 0, "score.bias", "expected shape [1]");
  f.read_f32("score.weight", p_.data(), size_t(C));
  f.read_f32("score.bias", p_.data() + C, 1);
}

void ScoreHead::forward(const float* hidden, int B, int T, const std::vector<int>& last,
                        double* scores) const {
  for (int r = 0; r < B; ++r) {
    const float* h = hidden + (size_t(r) * T + size_t(last[size_t(r)])) * size_t(C_);
    double s = p_[size_t(C_)];
    for (int c = 0; c < C_; ++c) s += double(p_[size_t(c)]) * h[c];
    scores[r] = s;
  }
}

void ScoreHead::backward(const float* hidden, int B, int T, const std::vector<int>& last,
                         const double* dscores, float* dhidden) {
  std::fill(dhidden, dhidden + size_t(B) * T * C_, 0.0f);
  for (int r = 0; r < B; ++r) {
    const size_t at = (size_t(r) * T + size_t(last[size_t(r)])) * size_t(C_);
    const double d = dscores[r];
    for (int c = 0; c < C_; ++c) {
      g_[size_t(c)] += float(d * hidden[at + size_t(c)]);
      dhidden[at + size_t(c)] = float(d * p_[size_t(c)]);
    }
    g_[size_t(C_)] += float(d);
  }
}

std::vector<double> score_rows(Transformer& model, const ScoreHead& head,
                               const std::vector<std::vector<int32_t>>& rows, int batch_rows) {
  const int n_ctx = model.config().n_ctx;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].empty()) throw UsageError("[reward score] row " + std::to_string(i) + " is empty");
    if (int64_t(rows[i].size()) > n_ctx)
      throw UsageError("[reward score] row " + std::to_string(i) + " has " +
                       std::to_string(rows[i].size()) + " tokens, more than the reward model's " +
                       "context of " + std::to_string(n_ctx));
  }
  std::vector<double> out(rows.size());
  std::vector<int32_t> ids;
  std::vector<int> last;
  for (size_t b0 = 0; b0 < rows.size(); b0 += size_t(batch_rows)) {
    const size_t b1 = std::min(rows.size(), b0 + size_t(batch_rows));
    const int B = int(b1 - b0);
    size_t T = 0;
    for (size_t i = b0; i < b1; ++i) T = std::max(T, rows[i].size());
    ids.assign(size_t(B) * T, 0);
    last.assign(size_t(B), 0);
    for (size_t i = b0; i < b1; ++i) {
      std::copy(rows[i].begin(), rows[i].end(), ids.begin() + (i - b0) * T);
      last[i - b0] = int(rows[i].size()) - 1;
    }
    const float* h = model.forward_hidden(ids.data(), B, int(T));
    head.forward(h, B, int(T), last, out.data() + b0);
  }
  return out;
}

RewardModel RewardModel::load(const fs::path& dir) {
  const fs::path cfg_file = dir / kRewardConfigFile;
  if (!fs::exists(cfg_file))
    throw InputError(cfg_file.string(), 0, "",
                     "missing: " + dir.string() + " is not a reward model directory",
                     "train one with `lmforge reward --init MODEL --data rankings.jsonl --output "
                     "RM` and pass RM/final");
  json info = json::parse(read_file(cfg_file), nullptr, false);
  if (!info.is_object()) throw InputError(cfg_file.string(), 0, "", "not a JSON object");
  if (info.value("format", "") != kRewardFormat)
    throw InputError(cfg_file.string(), 0, "format",
                     "expected \"" + std::string(kRewardFormat) + "\"");
  if (!info.contains("version") || !info["version"].is_number_integer() ||
      info["version"].get<int>() > kRewardVersion)
    throw InputError(cfg_file.string(), 0, "version",
                     "unsupported reward model version (this lmforge reads up to " +
                         std::to_string(kRewardVersion) + ")",
                     "use the lmforge that wrote it, or a newer one");
  RewardModel rm;
  rm.dir_ = dir;
  rm.info_ = info;
  rm.model_ = std::make_unique<Transformer>(Transformer::load(dir));
  if (LoraAdapters::present(dir)) {
    rm.model_->load_lora(dir);
    rm.model_->merge_lora();
  }
  rm.head_ = ScoreHead::load(dir / kScoreHeadFile, rm.model_->config().n_embd);
  rm.tok_ = std::make_unique<Tokenizer>(Tokenizer::load(dir));
  rm.renderer_ = ResponseRenderer(*rm.tok_);
  const std::string want = info.value("rendering", rm.renderer_.mode());
  if (want != rm.renderer_.mode())
    throw InputError(
        cfg_file.string(), 0, "rendering",
        "says \"" + want + "\" but the tokenizer implies \"" + rm.renderer_.mode() + "\"",
        "the tokenizer files were replaced after training");
  return rm;
}

std::vector<double> RewardModel::score(const std::vector<std::vector<int32_t>>& token_rows) {
  return score_rows(*model_, head_, token_rows);
}

std::vector<int32_t> RewardModel::render(const std::string& prompt,
                                         const std::string& response) const {
  std::vector<int32_t> r = renderer_.prompt_ids(prompt);
  std::vector<int32_t> a = renderer_.response_ids(response);
  r.insert(r.end(), a.begin(), a.end());
  return r;
}

double RewardModel::score_text(const std::string& prompt, const std::string& response) {
  return score({render(prompt, response)}).at(0);
}

void RewardModel::require_same_tokenizer(const Tokenizer& policy,
                                         const fs::path& policy_dir) const {
  const std::string a = tok_->content_hash(), b = policy.content_hash();
  if (a != b)
    throw InputError((policy_dir / "tokenizer.json").string(), 0, "tokenizer",
                     "differs from the reward model's (" + (dir_ / "tokenizer.json").string() +
                         "; hash " + b.substr(0, 12) + " vs " + a.substr(0, 12) + ")",
                     "train the reward model from the same base model as the policy");
}

}  // namespace lmforge
