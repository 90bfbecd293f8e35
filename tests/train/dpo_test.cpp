// DPO stage: the response log-prob head agrees with the model's own cross-entropy; starting from
// a small "SFT" model that says the target word in about a third of its answers, DPO on
// preferences for the word raises the sampled rate on held-out prompts and the held-out implicit
// reward accuracy, with the KL to the reference reported, positive and bounded; listwise runs;
// the reference log-probs are cached and a resume reuses them.
#include "lmforge/train/dpo.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/rng.h"
#include "lmforge/train/optimizer.h"
#include "lmforge/train/trainer.h"
#include "support/reward_fixture.h"
#include "support/train/sft_model.h"

namespace lmforge {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Fraction of sampled answers (temperature 1, fixed seed) on fresh prompts that contain the word.
double preferred_rate(const fs::path& model_dir, int n, uint64_t seed) {
  Transformer m = Transformer::load(model_dir);
  Tokenizer tok = Tokenizer::load(model_dir);
  ResponseRenderer rr(tok);
  Rng rng(seed);
  const int V = m.config().vocab_size;
  int hits = 0;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> seq = rr.prompt_ids(rlhf_test::prompt_for(rng));
    const size_t start = seq.size();
    for (int t = 0; t < 14 && int(seq.size()) < m.config().n_ctx; ++t) {
      const float* l = m.forward_logits(seq.data(), 1, int(seq.size())) + (seq.size() - 1) * V;
      const float mx = *std::max_element(l, l + V);
      double z = 0;
      for (int v = 0; v < V; ++v) z += std::exp(double(l[v] - mx));
      double u = rng.uniform() * z, c = 0;
      int pick = V - 1;
      for (int v = 0; v < V; ++v)
        if ((c += std::exp(double(l[v] - mx))) >= u) {
          pick = v;
          break;
        }
      if (pick == rr.end_id()) break;
      seq.push_back(pick);
    }
    hits += rlhf_test::count_target(tok.decode(std::span<const int32_t>(seq).subspan(start))) > 0;
  }
  return double(hits) / n;
}

DpoOptions options(const fs::path& init, const fs::path& data, const fs::path& out) {
  DpoOptions o;
  o.stage = dpo_default_stage_options();
  o.stage.init = init;
  o.stage.output = out;
  o.stage.lr = 2e-3;
  o.stage.warmup_steps = 5;
  o.stage.epochs = 2;
  o.stage.threads = 1;  // a shared 2-core machine: a second thread only waits at barriers
  o.data = data;
  o.val_fraction = 0.2;
  o.beta = 0.1;
  return o;
}

class DpoStage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    omp_set_num_threads(1);  // a shared 2-core machine: a second thread only waits at barriers
    dir_ = new fs::path(test_data::temp_dir("dpo"));
    sft_ = new fs::path(rlhf_test::write_sft_model(*dir_));
    data_ = new fs::path(rlhf_test::write_rankings(*dir_ / "rankings.jsonl", 200, 31));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete sft_;
    delete data_;
  }
  static fs::path *dir_, *sft_, *data_;
};
fs::path *DpoStage::dir_, *DpoStage::sft_, *DpoStage::data_;

TEST_F(DpoStage, LogprobHeadMatchesCrossEntropy) {
  Tokenizer tok = Tokenizer::load(*sft_);
  ResponseRenderer rr(tok);
  std::vector<EncodedRanking> rs = encode_rankings(*data_, read_rankings_jsonl(*data_), rr, 64);
  rs.resize(3);
  Transformer m = Transformer::load(*sft_);
  std::vector<std::vector<double>> lp = response_logprobs(m, rs, 2);
  ASSERT_EQ(lp.size(), 3u);
  for (size_t i = 0; i < rs.size(); ++i)
    for (size_t k = 0; k < rs[i].rows(); ++k) {
      std::vector<int32_t> row = rs[i].row(k), tg(row.size(), -1);
      for (size_t t = rs[i].prompt.size() - 1; t + 1 < row.size(); ++t) tg[t] = row[t + 1];
      const double mean = m.forward(row.data(), tg.data(), 1, int(row.size()));
      const double sum = -mean * double(m.last_unmasked());
      EXPECT_NEAR(lp[i][k], sum, 1e-4 * std::abs(sum) + 1e-4) << i << "," << k;
    }
}

TEST_F(DpoStage, RaisesPreferredRateWithBoundedKl) {
  const double before = preferred_rate(*sft_, 120, 77);
  DpoOptions o = options(*sft_, *data_, *dir_ / "dpo");
  DpoResult r = run_dpo(o);
  ASSERT_FALSE(r.train.interrupted);
  const double after = preferred_rate(r.final_dir, 120, 77);
  std::fprintf(stderr, "preferred rate: before %.3f, after %.3f\n", before, after);
  EXPECT_LT(before, 0.6);
  EXPECT_GT(after, before + 0.2);
  const json& s = r.summary;
  EXPECT_EQ(s["stage"], "dpo");
  EXPECT_NEAR(s["start"]["reward_accuracy"].get<double>(), 0.5, 1e-9);  // π = π_ref: all ties
  EXPECT_NEAR(s["start"]["kl"].get<double>(), 0.0, 1e-6);
  EXPECT_GE(s["reward_accuracy"].get<double>(), 0.8);
  EXPECT_GT(s["margin"].get<double>(), 0.0);
  EXPECT_GT(s["kl"].get<double>(), 0.0);
  EXPECT_LT(s["kl"].get<double>(), 2.0);  // nats per response token
  EXPECT_TRUE(fs::exists(o.stage.output / "ref_logprobs.json"));

  // Resume of the finished run: the cached reference is reused, final/ and summary rewritten
  // with the same numbers.
  const std::string ref_before = read_file(o.stage.output / "ref_logprobs.json");
  o.stage.resume = true;
  DpoResult again = run_dpo(o);
  EXPECT_EQ(read_file(o.stage.output / "ref_logprobs.json"), ref_before);
  EXPECT_DOUBLE_EQ(again.summary["reward_accuracy"].get<double>(),
                   s["reward_accuracy"].get<double>());
  EXPECT_DOUBLE_EQ(again.summary["kl"].get<double>(), s["kl"].get<double>());
}

// The reference cache is keyed by the reference's weights: retraining --init in place (same path,
// new weights) and resuming recomputes it instead of reusing stale log-probs. The chosen answers'
// log-likelihood is logged (training and held out).
TEST_F(DpoStage, ReferenceCacheFollowsTheWeightsAndChosenLogpIsLogged) {
  const fs::path init = *dir_ / "init-in-place";
  fs::copy(*sft_, init, fs::copy_options::recursive);
  DpoOptions o = options(init, *data_, *dir_ / "dpo-cache");
  o.stage.max_steps = 3;
  DpoResult r = run_dpo(o);
  ASSERT_FALSE(r.train.interrupted);
  EXPECT_TRUE(r.summary["chosen_logp"].is_number());
  EXPECT_TRUE(r.summary["chosen_logp_ref"].is_number());
  EXPECT_NEAR(r.summary["start"]["chosen_logp"].get<double>(),
              r.summary["start"]["chosen_logp_ref"].get<double>(), 1e-9);
  const std::string metrics = read_file(o.stage.output / "metrics.jsonl");
  for (const char* k : {"\"chosen_logp\"", "\"reward_best\"", "\"reward_worst\""})
    EXPECT_NE(metrics.find(k), std::string::npos) << k;
  const std::string ref_before = read_file(o.stage.output / "ref_logprobs.json");
  // "Retrain" --init in place: other weights under the same path.
  fs::copy_file(r.final_dir / "model.safetensors", init / "model.safetensors",
                fs::copy_options::overwrite_existing);
  o.stage.resume = true;
  run_dpo(o);
  EXPECT_NE(read_file(o.stage.output / "ref_logprobs.json"), ref_before);
}

TEST_F(DpoStage, ListwiseWithLora) {
  DpoOptions o = options(*sft_, *data_, *dir_ / "dpo-listwise");
  o.loss = "listwise";
  o.stage.max_steps = 30;
  o.stage.lora_rank = 4;
  o.stage.lora_targets = "attn_qkv,ffn_up";
  o.stage.merge = true;
  o.stage.lr = 5e-3;
  o.keep_last = true;  // all 30 steps (selection is WritesTheBestHeldOutStepAndStopsEarly's)
  DpoResult r = run_dpo(o);
  EXPECT_EQ(r.summary["steps"], 30);
  EXPECT_GT(r.summary["reward_accuracy"].get<double>(),
            r.summary["start"]["reward_accuracy"].get<double>());
  EXPECT_TRUE(fs::exists(o.stage.output / "adapter" / "adapter_config.json"));
  EXPECT_TRUE(fs::exists(r.final_dir / "model.safetensors"));
}

// Held-out selection (train/early_stop.h): many epochs over a few rankings at a high learning
// rate overfit them (the held-out objective, DPO loss + the preferred answers' NLL, ends above
// where it started: --keep-last shows it); by default the stage writes the weights of its best
// held-out evaluation (the --init model is one candidate) and stops once `patience` evaluations
// bring nothing better.
TEST_F(DpoStage, WritesTheBestHeldOutStepAndStopsEarly) {
  const fs::path few = rlhf_test::write_rankings(*dir_ / "few.jsonl", 24, 5);
  auto opts = [&](const char* out) {
    DpoOptions o = options(*sft_, few, *dir_ / out);
    o.val_fraction = 0.35;
    o.stage.epochs = 40;
    o.stage.lr = 1e-2;
    o.stage.eval_every = 4;
    return o;
  };
  DpoOptions last = opts("dpo-keep-last");
  last.keep_last = true;
  DpoResult l = run_dpo(last);
  const double start = l.summary["start"]["val_objective"].get<double>();
  const double end_last = l.summary["val_objective"].get<double>();
  std::fprintf(stderr, "held-out objective: start %.3f, last step %.3f\n", start, end_last);
  ASSERT_GT(end_last, start);  // the scenario overfits
  EXPECT_TRUE(l.summary["best_step"].is_null());

  DpoOptions sel = opts("dpo-select");
  DpoResult s = run_dpo(sel);
  const double chosen = s.summary["val_objective"].get<double>();
  std::fprintf(stderr, "selected: step %lld of %lld, objective %.3f\n",
               static_cast<long long>(s.summary["best_step"].get<int64_t>()),
               static_cast<long long>(s.train.steps_done), chosen);
  EXPECT_LE(chosen, start);
  EXPECT_LT(chosen, end_last);
  EXPECT_TRUE(s.summary["stopped_early"].get<bool>());
  EXPECT_LT(s.train.steps_done, l.train.steps_done);
  // final/ holds exactly the best evaluation's weights.
  const std::string bytes = read_file(sel.stage.output / "best_weights.bin");
  const size_t nl = bytes.find('\n');
  Transformer fin = Transformer::load(s.final_dir);
  ASSERT_EQ(bytes.size() - nl - 1, fin.params().numel() * sizeof(float));
  EXPECT_EQ(std::memcmp(bytes.data() + nl + 1, fin.params().data(), bytes.size() - nl - 1), 0);
}

TEST_F(DpoStage, BadBeta) {
  DpoOptions o = options(*sft_, *data_, *dir_ / "dpo-bad");
  o.beta = 0;
  EXPECT_THROW(run_dpo(o), UsageError);
  EXPECT_FALSE(fs::exists(*dir_ / "dpo-bad"));
}

}  // namespace
}  // namespace lmforge
