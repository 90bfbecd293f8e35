// The reward model: a transformer with a scalar head on the last token, score = w·h_last + b,
// where h_last is the final-norm hidden state (forward_hidden) at each row's last token (the end
// token that ResponseRenderer appends). On disk a reward model is a model directory plus
//   score_head.safetensors  "score.weight" (1,C) and "score.bias" (1), f32
//   reward_config.json      {"format": "lmforge-reward", "version": 1, "rendering": "chatml"|"raw",
//                           "loss", "tokenizer_hash", "hidden_size", "val_reward_accuracy", ...}
// RewardModel is the API other stages (PPO, `lmforge reward score`) use: load a directory, render
// prompt + response rows, score token rows in batches.
// Not here: training (reward_train.h), ranking losses (loss/ranking.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmforge/data/tokenizer.h"
#include "lmforge/model/transformer.h"
#include "lmforge/train/reward_data.h"
#include "lmforge/train/trainer.h"

namespace lmforge {

inline constexpr const char* kRewardFormat = "lmforge-reward";
inline constexpr int kRewardVersion = 1;
inline constexpr const char* kScoreHeadFile = "score_head.safetensors";
inline constexpr const char* kRewardConfigFile = "reward_config.json";

// The scalar head: C weights then the bias in one flat array (one AdamW group, prefix "score.").
class ScoreHead {
 public:
  explicit ScoreHead(int C = 0) : C_(C), p_(size_t(C) + 1, 0.0f), g_(size_t(C) + 1, 0.0f) {}
  // w ~ N(0, 0.02²) (a small fixed init, as HF/TRL's reward head), b = 0.
  void init(uint64_t seed);
  int dim() const { return C_; }
  const float* weight() const { return p_.data(); }
  float bias() const { return p_[size_t(C_)]; }
  TrainableGroup group();
  void save(const std::filesystem::path& file) const;  // atomic
  // InputError naming the file and tensor on a missing or misshaped tensor.
  static ScoreHead load(const std::filesystem::path& file, int C);
  // Reads the file into this head's storage (group() pointers stay valid: resume).
  void read(const std::filesystem::path& file);

  // scores[r] = w·hidden[r, last[r]] + b; hidden (B,T,C), last[r] < T.
  void forward(const float* hidden, int B, int T, const std::vector<int>& last,
               double* scores) const;
  // Head gradients += from dscores (B); dhidden (B,T,C) is assigned: dscores[r]·w at each row's
  // last position, zero elsewhere.
  void backward(const float* hidden, int B, int T, const std::vector<int>& last,
                const double* dscores, float* dhidden);

 private:
  int C_;
  std::vector<float> p_, g_;
};

// Token rows scored in batches of rows padded to the longest (right padding: causal attention
// never lets a real token see a pad). UsageError for an empty row or one longer than n_ctx.
std::vector<double> score_rows(Transformer& model, const ScoreHead& head,
                               const std::vector<std::vector<int32_t>>& rows, int batch_rows = 16);

class RewardModel {
 public:
  // Reads a directory written by `lmforge reward` (RM/final). InputError naming the file when
  // reward_config.json is missing, of another format or a newer version, or the head does not
  // fit the model.
  static RewardModel load(const std::filesystem::path& dir);

  // One score per row (rendered prompt + response ids, e.g. from render()).
  std::vector<double> score(const std::vector<std::vector<int32_t>>& token_rows);
  // Renders and scores one prompt/response pair.
  double score_text(const std::string& prompt, const std::string& response);
  std::vector<int32_t> render(const std::string& prompt, const std::string& response) const;

  const Tokenizer& tokenizer() const { return *tok_; }
  const ResponseRenderer& renderer() const { return renderer_; }
  const ModelConfig& config() const { return model_->config(); }
  const nlohmann::json& info() const { return info_; }  // reward_config.json
  const std::filesystem::path& dir() const { return dir_; }
  // InputError when `policy` (loaded from policy_dir) is another tokenizer than the reward
  // model's: the reward model would read the policy's token ids as other words.
  void require_same_tokenizer(const Tokenizer& policy,
                              const std::filesystem::path& policy_dir) const;

 private:
  RewardModel() = default;
  std::filesystem::path dir_;
  std::unique_ptr<Transformer> model_;
  ScoreHead head_;
  std::unique_ptr<Tokenizer> tok_;  // stable address: renderer_ points at it
  ResponseRenderer renderer_;
  nlohmann::json info_;
};

}  // namespace lmforge
