// Sampled answers ranked by the simulated ranker (see demo/rank.h).
#include "lmforge/demo/rank.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "demo/batch_generate.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/progress.h"
#include "lmforge/data/jsonl.h"
#include "lmforge/demo/demo_data.h"

namespace lmforge {

RankSummary rank_sampled_answers(const RankOptions& opt) {
  if (opt.samples < 2) throw UsageError("--samples must be at least 2 (a ranking needs two)");
  if (!(opt.temperature > 0)) throw UsageError("--temperature must be > 0 (sampling)");
  if (opt.max_tokens < 1 || opt.batch < 1 || opt.max_prompts < 0)
    throw UsageError("--max-tokens and --batch must be >= 1, --max-prompts >= 0");
  struct Prompt {
    std::string text, reference;
  };
  std::vector<Prompt> prompts;
  {
    JsonlReader r(opt.prompts);
    nlohmann::json obj;
    while (r.next(obj) && (opt.max_prompts == 0 || int(prompts.size()) < opt.max_prompts)) {
      Prompt p{r.location().required_string(obj, "prompt"), ""};
      if (!obj.contains("reference") || !obj["reference"].is_string())
        r.location().fail("reference", "the simulated ranker needs each prompt's reference answer",
                          "add \"reference\": \"...\" to every line");
      p.reference = obj["reference"].get<std::string>();
      prompts.push_back(std::move(p));
    }
  }
  if (prompts.empty())
    throw InputError(opt.prompts.string(), 0, "prompt", "no prompt to rank answers of");

  auto m = LoadedModel::load(opt.model);
  demo_detail::PromptEncoder enc(*m, opt.chat);
  std::vector<std::vector<int32_t>> encoded;
  for (const auto& p : prompts) encoded.push_back(enc.encode(p.text));
  // samples[i]: every answer drawn for prompt i; distinct(i) counts the different non-empty ones.
  std::vector<std::vector<std::string>> samples(prompts.size());
  auto distinct = [&](size_t i) {
    std::set<std::string> d;
    for (const auto& a : samples[i])
      if (!a.empty()) d.insert(a);
    return d.size();
  };
  // One round: `opt.samples` answers to each prompt of `which` at `temperature`.
  auto sample_round = [&](const std::vector<size_t>& which, float temperature, uint64_t seed,
                          const char* what) {
    std::vector<std::vector<int32_t>> ids;
    for (size_t i : which)
      for (int k = 0; k < opt.samples; ++k) ids.push_back(encoded[i]);
    SamplingParams sp;
    sp.temperature = temperature;
    sp.top_k = opt.top_k;
    Progress progress(what, int64_t(which.size()), "prompts", 5.0);
    std::vector<std::string> answers;
    // In chunks so the progress bar moves.
    const size_t chunk = size_t(std::max(1, opt.batch)) * 4;
    for (size_t b = 0; b < ids.size(); b += chunk) {
      std::vector<std::vector<int32_t>> part(ids.begin() + b,
                                             ids.begin() + std::min(ids.size(), b + chunk));
      SamplingParams s = sp;
      s.seed = seed + b;
      auto a = demo_detail::generate_all(*m, part, enc.stop_ids, opt.max_tokens, opt.batch, s);
      answers.insert(answers.end(), a.begin(), a.end());
      progress.update(int64_t(answers.size()) / opt.samples, "sampling");
    }
    for (size_t w = 0; w < which.size(); ++w)
      for (int k = 0; k < opt.samples; ++k)
        samples[which[w]].push_back(answers[w * size_t(opt.samples) + size_t(k)]);
    progress.finish("done");
  };
  std::vector<size_t> all(prompts.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  sample_round(all, opt.temperature, opt.seed, "demo rank");
  double credit_all = 0;
  int n_all = 0;
  for (size_t i = 0; i < prompts.size(); ++i)
    for (const auto& a : samples[i]) credit_all += answer_credit(a, prompts[i].reference), ++n_all;
  // A prompt whose samples are all the same gives no ranking: a model sure of one answer. Such
  // prompts are sampled again at a higher temperature (x1.5 a round, up to max_temperature), so
  // the ranking contrasts the model's usual answer with the alternatives it finds less likely.
  RankSummary sum;
  uint64_t round_seed = opt.seed;
  for (float t = opt.temperature * 1.5f; t <= opt.max_temperature * 1.0001f; t *= 1.5f) {
    std::vector<size_t> again;
    for (size_t i = 0; i < prompts.size(); ++i)
      if (distinct(i) < 2) again.push_back(i);
    if (again.empty()) break;
    if (sum.resampled == 0) sum.resampled = int(again.size());
    round_seed += uint64_t(prompts.size()) * uint64_t(opt.samples);  // fresh draws every round
    char what[64];
    std::snprintf(what, sizeof what, "demo rank (resampling at temperature %.2g)", t);
    sample_round(again, t, round_seed, what);
  }

  sum.prompts = int(prompts.size());
  std::string out;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<std::string> distinct;
    std::set<std::string> seen;
    for (const std::string& a : samples[i])
      if (!a.empty() && seen.insert(a).second) distinct.push_back(a);
    if (distinct.size() < 2) {
      ++sum.skipped_identical;
      continue;
    }
    const std::vector<std::string> ranked = simulated_rank(distinct, prompts[i].reference);
    nlohmann::ordered_json credits = nlohmann::ordered_json::array();
    for (const auto& a : ranked)
      credits.push_back(std::round(100 * answer_credit(a, prompts[i].reference)) / 100);
    // Answers the rule cannot tell apart (same credit, same length) are tied, as `label
    // export` marks ties.
    nlohmann::ordered_json ties = nlohmann::ordered_json::array();
    for (size_t a = 0; a < ranked.size();) {
      size_t e = a + 1;
      while (e < ranked.size() && credits[e] == credits[a] && ranked[e].size() == ranked[a].size())
        ++e;
      if (e - a > 1) {
        nlohmann::ordered_json g = nlohmann::ordered_json::array();
        for (size_t t = a; t < e; ++t) g.push_back(t);
        ties.push_back(g);
      }
      a = e;
    }
    nlohmann::ordered_json j = {{"prompt", prompts[i].text}, {"responses", ranked}};
    if (!ties.empty()) j["ties"] = ties;
    j["credits"] = credits;
    j["ranker"] = "simulated";
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    ++sum.ranked;
    sum.best_credit += credits[0].get<double>();
    sum.any_right += exact_answer(ranked[0], prompts[i].reference) ? 1 : 0;
    sum.mean_distinct += double(distinct.size());
  }
  if (sum.ranked > 0) {
    sum.best_credit /= sum.ranked;
    sum.any_right /= sum.ranked;
    sum.mean_distinct /= sum.ranked;
  }
  sum.mean_credit = n_all ? credit_all / n_all : 0;
  if (sum.ranked == 0)
    throw RuntimeError("every prompt's " + std::to_string(opt.samples) +
                       " samples were identical: no ranking (raise --temperature, "
                       "--max-temperature or --samples)");
  if (opt.output.has_parent_path()) std::filesystem::create_directories(opt.output.parent_path());
  write_file_atomic(opt.output, out);
  return sum;
}

}  // namespace lmforge
