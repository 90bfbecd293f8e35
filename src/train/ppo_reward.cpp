// PPO's reward functions (see ppo.h): a trained reward model, or a stated rule.
// Not here: training the reward model (reward_train.h).
#include <memory>

#include "lmforge/train/ppo.h"
#include "lmforge/train/reward_model.h"

namespace lmforge {

PpoRewardFn reward_model_fn(const std::filesystem::path& rm_dir, const Tokenizer& policy_tok,
                            const std::filesystem::path& policy_dir) {
  auto rm = std::make_shared<RewardModel>(RewardModel::load(rm_dir));
  rm->require_same_tokenizer(policy_tok, policy_dir);
  return [rm](const std::vector<PpoSample>& samples) {
    const int32_t end = rm->renderer().end_id();
    const int n_ctx = rm->config().n_ctx;
    std::vector<std::vector<int32_t>> rows;
    for (const auto& s : samples) {
      std::vector<int32_t> r = s.prompt;
      r.insert(r.end(), s.response.begin(), s.response.end());
      if (end >= 0) {
        // The reward model reads its score at its end token: end every answer with it.
        if (!s.response.empty() && s.response.back() != end && r.size() > s.prompt.size() &&
            int(r.size()) >= n_ctx)
          r.back() = end;  // no room left: the end token takes the last answer token's place
        else if (s.response.empty() || s.response.back() != end)
          r.push_back(end);
      }
      if (int(r.size()) > n_ctx) r.resize(size_t(n_ctx));
      rows.push_back(std::move(r));
    }
    return rm->score(rows);
  };
}

PpoRewardFn word_count_reward_fn(const std::string& word, const Tokenizer& tok) {
  return [word, &tok](const std::vector<PpoSample>& samples) {
    std::vector<double> out;
    for (const auto& s : samples) {
      const std::string text = tok.decode(s.response);
      int n = 0;
      for (size_t p = text.find(word); !word.empty() && p != std::string::npos;
           p = text.find(word, p + word.size()))
        ++n;
      out.push_back(n);
    }
    return out;
  };
}

}  // namespace lmforge
