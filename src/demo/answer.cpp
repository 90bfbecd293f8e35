// Greedy batched answers for probes, held-out accuracy per kind (see demo/answer.h).
#include "lmforge/demo/answer.h"

#include <algorithm>

#include "demo/batch_generate.h"
#include "lmforge/core/error.h"
#include "lmforge/data/jsonl.h"
#include "lmforge/demo/demo_data.h"

namespace lmforge {

std::map<std::string, KindScore> AnswerResult::by_kind() const {
  std::map<std::string, KindScore> out;
  for (const auto& h : heldout) {
    KindScore& k = out[h.kind];
    ++k.n;
    k.correct += h.correct ? 1 : 0;
  }
  return out;
}

std::vector<HeldoutAnswer> read_heldout(const std::filesystem::path& file, int max) {
  std::vector<std::string> order;  // kinds in order of first appearance
  std::map<std::string, std::vector<HeldoutAnswer>> by_kind;
  JsonlReader r(file);
  nlohmann::json obj;
  while (r.next(obj)) {
    const auto& msgs = r.location().required_array(obj, "messages");
    HeldoutAnswer h;
    for (const auto& msg : msgs) {
      const std::string role = r.location().required_string(msg, "role", "messages[].role");
      const std::string content =
          r.location().required_string(msg, "content", "messages[].content");
      if (role == "user" && h.prompt.empty()) h.prompt = content;
      if (role == "assistant") h.reference = content;
    }
    if (h.prompt.empty() || h.reference.empty())
      r.location().fail("messages", "a held-out example needs a user and an assistant turn");
    h.kind = "all";
    if (obj.contains("kind")) {
      if (!obj["kind"].is_string()) r.location().fail("kind", "must be a string");
      h.kind = obj["kind"].get<std::string>();
    }
    if (!by_kind.count(h.kind)) order.push_back(h.kind);
    by_kind[h.kind].push_back(std::move(h));
  }
  std::vector<HeldoutAnswer> out;
  for (size_t i = 0; int(out.size()) < max; ++i) {
    bool any = false;
    for (const auto& k : order) {
      const auto& v = by_kind[k];
      if (i < v.size() && int(out.size()) < max) out.push_back(v[i]), any = true;
    }
    if (!any) break;
  }
  return out;
}

AnswerResult answer_prompts(const AnswerOptions& opt) {
  if (opt.metric != "exact" && opt.metric != "contains")
    throw UsageError("--metric must be exact or contains, got '" + opt.metric + "'");
  if (!opt.versus.empty() && opt.heldout.empty())
    throw UsageError("--versus compares answers to the held-out prompts: give --heldout too");
  auto m = LoadedModel::load(opt.model);
  demo_detail::PromptEncoder enc(*m, opt.chat);
  std::vector<std::vector<int32_t>> ids;
  for (const auto& p : opt.prompts) ids.push_back(enc.encode(p));
  AnswerResult res;
  if (!opt.heldout.empty()) res.heldout = read_heldout(opt.heldout, opt.heldout_max);
  for (const auto& h : res.heldout) ids.push_back(enc.encode(h.prompt));
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  std::vector<std::string> answers =
      demo_detail::generate_all(*m, ids, enc.stop_ids, opt.max_tokens, opt.batch, greedy);
  for (size_t i = 0; i < opt.prompts.size(); ++i)
    res.samples.emplace_back(opt.prompts[i], answers[i]);
  for (size_t k = 0; k < res.heldout.size(); ++k) {
    HeldoutAnswer& h = res.heldout[k];
    h.answer = answers[opt.prompts.size() + k];
    h.correct = opt.metric == "exact" ? exact_answer(h.answer, h.reference)
                                      : contains_answer(h.answer, h.reference);
    ++res.heldout_n;
    res.heldout_correct += h.correct ? 1 : 0;
  }
  if (!opt.versus.empty()) {
    // The baseline's answers, the same way (greedy, same encoder options), after this model's
    // are done so only one model is in memory at a time.
    m.reset();
    auto base = LoadedModel::load(opt.versus);
    demo_detail::PromptEncoder benc(*base, opt.chat);
    std::vector<std::vector<int32_t>> bids;
    for (const auto& h : res.heldout) bids.push_back(benc.encode(h.prompt));
    const std::vector<std::string> b =
        demo_detail::generate_all(*base, bids, benc.stop_ids, opt.max_tokens, opt.batch, greedy);
    RankerWinRate w;
    for (size_t k = 0; k < res.heldout.size(); ++k) {
      res.heldout[k].versus_answer = b[k];
      w.add(res.heldout[k].answer, b[k], res.heldout[k].reference);
    }
    res.win_rate = w;
  }
  return res;
}

}  // namespace lmforge
