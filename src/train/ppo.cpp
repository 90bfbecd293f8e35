// The PPO stage (see ppo.h): prompt validation and rendering, the held-out split, the start
// measurement, the loop and the summary. Every input is checked before anything is written.
// Not here: the objective (ppo_objective.cpp, ppo_rollout.cpp), the reward model.
#include "lmforge/train/ppo.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/rng.h"
#include "lmforge/data/datasets.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/infer/chat_template.h"
#include "lmforge/train/reward_data.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void validate(const PpoStageOptions& o) {
  validate_stage_options(o.stage);
  const PpoConfig& c = o.ppo;
  if (c.rollout_batch < 1 || c.ppo_epochs < 1 || c.max_new_tokens < 1)
    throw UsageError("--rollout-batch, --ppo-epochs and --max-new-tokens must be at least 1");
  if (c.rollout_batch % (o.stage.batch_size * o.stage.grad_accum) != 0)
    throw UsageError("--rollout-batch " + std::to_string(c.rollout_batch) +
                     " must be a multiple of --batch-size x --grad-accum (" +
                     std::to_string(o.stage.batch_size * o.stage.grad_accum) + ")");
  if (!(c.temperature > 0)) throw UsageError("--temperature must be > 0 (PPO samples)");
  if (c.gamma < 0 || c.gamma > 1 || c.lam < 0 || c.lam > 1)
    throw UsageError("--gamma and --lam must be in [0, 1]");
  if (!(c.clip > 0) || !(c.value_ridge > 0) || !(c.entropy_coef >= 0) ||
      !(c.missing_eos_penalty >= 0))
    throw UsageError(
        "--clip and --value-ridge must be > 0; --entropy-coef, --missing-eos-penalty >= 0");
  if (!(o.min_reward_accuracy >= 0 && o.min_reward_accuracy <= 1))
    throw UsageError("--min-reward-accuracy must be in [0, 1]");
  if (c.kl_coef < 0 || !(c.kl_target > 0) || !(c.kl_horizon > 0) || c.target_kl < 0 || c.max_kl < 0)
    throw UsageError(
        "--kl-coef, --target-kl, --max-kl must be >= 0; --kl-target, --kl-horizon > 0");
  if (c.kl_action != "warn" && c.kl_action != "stop")
    throw UsageError("--kl-action must be warn or stop, got '" + c.kl_action + "'");
  if (o.prompt_format != "auto" && o.prompt_format != "chat" && o.prompt_format != "raw")
    throw UsageError("--prompt-format must be auto, chat or raw, got '" + o.prompt_format + "'");
  if (o.eval_count < 0) throw UsageError("--eval-prompts-count must be >= 0");
}

// Token rows for each prompt of a file; InputError naming file:line when one leaves no room for
// an answer in the context.
std::vector<std::vector<int32_t>> render(const fs::path& file, const Tokenizer& tok,
                                         const std::optional<ChatTemplate>& chat, int n_ctx) {
  std::vector<std::vector<int32_t>> rows;
  for (const PromptExample& ex : read_prompts_jsonl(file)) {
    std::vector<int32_t> ids =
        chat ? chat->encode(tok, {{"user", ex.prompt}}, /*add_generation_prompt=*/true)
             : tok.encode(ex.prompt);
    if (int(ids.size()) >= n_ctx)
      throw InputError(file.string(), ex.line, "prompt",
                       "is " + std::to_string(ids.size()) +
                           " tokens, which leaves no room for an "
                           "answer in the model's context of " +
                           std::to_string(n_ctx),
                       "shorten the prompt or drop it");
    rows.push_back(std::move(ids));
  }
  return rows;
}

// PPO maximises whatever the reward model says, its mistakes included: a reward model that does
// not rank held-out answers well is refused (below --min-reward-accuracy) or used with a warning.
void check_reward_model(const fs::path& rm_dir, double min_accuracy) {
  const fs::path f = rm_dir / "reward_config.json";
  if (!fs::exists(f)) return;  // RewardModel::load names the missing file
  json info = json::parse(read_file(f), nullptr, false);
  if (!info.is_object() || !info.contains("reward_accuracy") ||
      !info["reward_accuracy"].is_number()) {
    std::fprintf(stderr,
                 "warning: %s does not say how well the reward model ranks held-out answers; "
                 "PPO will optimise its mistakes too\n",
                 f.c_str());
    return;
  }
  const double acc = info["reward_accuracy"].get<double>();
  const int64_t n_val = info.value("val_rankings", int64_t(0));
  const bool held_out = n_val > 0;
  if (!held_out) {
    std::fprintf(stderr,
                 "warning: the reward model's accuracy %.3f was measured on its training "
                 "rankings (--val-fraction 0), which says little about answers it never saw\n",
                 acc);
    return;
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "is %.3f on held-out rankings, below --min-reward-accuracy %.3f",
                acc, min_accuracy);
  // A few held-out rankings give a noisy accuracy (4 rankings are ~10 pairs): refuse only on
  // enough evidence, warn otherwise.
  constexpr int64_t kMinValRankings = 20;
  if (acc < min_accuracy && n_val < kMinValRankings) {
    std::fprintf(stderr,
                 "warning: the reward model %s, but on only %lld held-out rankings (too few to "
                 "refuse it; PPO may learn its mistakes)\n",
                 buf, static_cast<long long>(n_val));
    return;
  }
  if (acc < min_accuracy)
    throw InputError(f.string(), 0, "reward_accuracy",
                     std::string(buf) + ": PPO would learn the reward model's mistakes",
                     "train the reward model longer or on more rankings (lmforge reward --epochs), "
                     "or pass --min-reward-accuracy 0 to use it anyway");
  if (acc < 0.75)
    std::fprintf(stderr,
                 "warning: the reward model ranks only %.1f%% of held-out pairs right; PPO may "
                 "learn its mistakes (watch val_reward against the answers themselves)\n",
                 100 * acc);
}

}  // namespace

PpoStageResult run_ppo(const PpoStageOptions& o, PpoRewardFn reward, const TrainHooks& test_hooks) {
  // ---- validate everything before writing anything ----
  validate(o);
  const ModelConfig mc = read_init_config(o.stage.init);
  Tokenizer tok = Tokenizer::load(o.stage.init);
  if (!reward) {
    if (o.reward_model.empty() == o.reward_word.empty())
      throw UsageError("give exactly one of --reward RM and --reward-word WORD");
    if (!o.reward_model.empty()) check_reward_model(o.reward_model, o.min_reward_accuracy);
    reward = o.reward_model.empty() ? word_count_reward_fn(o.reward_word, tok)
                                    : reward_model_fn(o.reward_model, tok, o.stage.init);
  }
  std::optional<ChatTemplate> chat;
  const ResponseRenderer renderer(tok);
  if (o.prompt_format == "chat" || (o.prompt_format == "auto" && renderer.chat()))
    chat = ChatTemplate::load(o.stage.init);
  PpoPrompts prompts;
  std::vector<std::vector<int32_t>> all = render(o.prompts, tok, chat, mc.n_ctx);
  if (!o.eval_prompts.empty()) {
    prompts.train = std::move(all);
    prompts.eval = render(o.eval_prompts, tok, chat, mc.n_ctx);
  } else {
    // Hold out a seeded sample of the prompts: 10% (1 to 64) unless --eval-prompts-count says.
    const size_t n = all.size();
    size_t k = o.eval_count > 0 ? size_t(o.eval_count) : std::clamp<size_t>(n / 10, 1, 64);
    if (k >= n)
      throw InputError(o.prompts.string(), 0, "prompt",
                       "has " + std::to_string(n) + " prompts: too few to hold out " +
                           std::to_string(k) + " for evaluation and still train",
                       "add prompts, lower --eval-prompts-count, or pass --eval-prompts FILE");
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    Rng rng(seed_for(o.stage.seed, "ppo-eval-split"));
    for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    std::vector<char> held(n, 0);
    for (size_t i = 0; i < k; ++i) held[order[i]] = 1;
    for (size_t i = 0; i < n; ++i) (held[i] ? prompts.eval : prompts.train).push_back(all[i]);
  }
  if (chat) prompts.stop_ids = chat->stop_ids(tok);
  if (renderer.end_id() >= 0 && std::find(prompts.stop_ids.begin(), prompts.stop_ids.end(),
                                          renderer.end_id()) == prompts.stop_ids.end())
    prompts.stop_ids.push_back(renderer.end_id());
  if (mc.eos_token_id >= 0 && std::find(prompts.stop_ids.begin(), prompts.stop_ids.end(),
                                        mc.eos_token_id) == prompts.stop_ids.end())
    prompts.stop_ids.push_back(mc.eos_token_id);
  if (!chat && prompts.stop_ids.empty()) prompts.stop_ids.push_back(tok.eot_id());

  // Steps: --max-steps, else --epochs over the training prompts, each rollout batch serving
  // ppo_epochs · R / (B · grad_accum) steps.
  const PpoConfig& pc = o.ppo;
  const int64_t per_step = int64_t(o.stage.batch_size) * o.stage.grad_accum;
  const int64_t steps_per_rollout = int64_t(pc.ppo_epochs) * pc.rollout_batch / per_step;
  const int64_t rollouts =
      (int64_t(o.stage.epochs) * int64_t(prompts.train.size()) + pc.rollout_batch - 1) /
      pc.rollout_batch;
  const int64_t total = o.stage.max_steps > 0 ? o.stage.max_steps
                                              : std::max<int64_t>(1, rollouts * steps_per_rollout);
  json resume_cfg = {
      {"ppo",
       {{"rollout_batch", pc.rollout_batch},
        {"ppo_epochs", pc.ppo_epochs},
        {"max_new_tokens", pc.max_new_tokens},
        {"temperature", pc.temperature},
        {"gamma", pc.gamma},
        {"lam", pc.lam},
        {"clip", pc.clip},
        {"value_ridge", pc.value_ridge},
        {"missing_eos_penalty", pc.missing_eos_penalty},
        {"entropy_coef", pc.entropy_coef},
        {"kl_coef", pc.kl_coef},
        {"adaptive_kl", pc.adaptive_kl},
        {"kl_target", pc.kl_target},
        {"kl_horizon", pc.kl_horizon},
        {"target_kl", pc.target_kl},
        {"whiten_rewards", pc.whiten_rewards}}},
      {"prompts", fs::absolute(o.prompts).lexically_normal().string()},
      {"prompt_format", o.prompt_format},
      {"reward", !o.reward_model.empty()
                     ? fs::absolute(o.reward_model).lexically_normal().string()
                     : (o.reward_word.empty() ? std::string("custom") : "word:" + o.reward_word)},
      {"train_prompts", prompts.train.size()},
      {"eval_prompts", prompts.eval.size()}};
  std::vector<fs::path> tok_files;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (fs::exists(o.stage.init / f)) tok_files.push_back(o.stage.init / f);

  // ---- from here on we write ----
  StageRun run = begin_stage("ppo", o.stage, resume_cfg, total, tok_files);
  Transformer reference = Transformer::load(o.stage.init);  // frozen: the KL anchor
  PpoConfig cfg = pc;
  cfg.seed = o.stage.seed;
  std::fprintf(stderr,
               "ppo: %zu training prompts, %zu held out; rollout batch %d x %d epochs = %lld "
               "steps per rollout, %lld steps\n",
               prompts.train.size(), prompts.eval.size(), cfg.rollout_batch, cfg.ppo_epochs,
               static_cast<long long>(steps_per_rollout), static_cast<long long>(total));
  PpoObjective obj(*run.model, reference, reward, std::move(prompts), cfg, o.stage.batch_size,
                   o.stage.grad_accum);

  PpoStageResult res;
  const json& start = stage_start_metrics(run, [&] {
    PpoObjective::Eval e = obj.evaluate();
    return json{{"mean_reward", e.mean_reward}, {"kl", e.kl}, {"response_len", e.response_len}};
  });
  res.start_reward = start.value("mean_reward", 0.0);
  TrainHooks hooks = test_hooks;
  const double start_len = start.value("response_len", 0.0);
  hooks.eval = [&]() {
    PpoObjective::Eval e = obj.evaluate();
    // A policy that games a reward model usually shows it in the length of its answers first.
    if (start_len > 0 && std::abs(e.response_len / start_len - 1.0) > 0.5)
      std::fprintf(stderr,
                   "warning: held-out answers are %.1f tokens long, %.1f at the start: PPO may be "
                   "exploiting the reward model (hint: raise --kl-coef, lower --lr, or check the "
                   "reward model on such answers)\n",
                   e.response_len, start_len);
    // val_loss: the negative KL-regularized objective PPO maximizes, on held-out prompts.
    return std::map<std::string, double>{{"val_loss", -(e.mean_reward - obj.kl_coef() * e.kl)},
                                         {"val_reward", e.mean_reward},
                                         {"val_kl", e.kl},
                                         {"val_response_len", e.response_len}};
  };
  res.train = run_stage_loop(run, obj, hooks);
  res.final_reward = res.train.last_eval.count("val_reward") ? res.train.last_eval.at("val_reward")
                                                             : res.start_reward;
  res.final_kl = res.train.last_eval.count("val_kl") ? res.train.last_eval.at("val_kl") : 0.0;
  std::fprintf(stderr, "ppo: held-out mean reward %.4f -> %.4f, KL to the reference %.4f\n",
               res.start_reward, res.final_reward, res.final_kl);
  res.final_dir =
      finish_stage(run, res.train, json{{"mean_reward", res.final_reward}, {"kl", res.final_kl}});
  return res;
}

}  // namespace lmforge
