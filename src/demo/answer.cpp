// Greedy batched answers for probes (see demo/answer.h).
#include "lmforge/demo/answer.h"

#include <algorithm>
#include <memory>

#include "lmforge/core/error.h"
#include "lmforge/data/jsonl.h"
#include "lmforge/demo/demo_data.h"
#include "lmforge/infer/generate.h"
#include "lmforge/infer/loaded_model.h"

namespace lmforge {
namespace {

// Answers every prompt (already token ids), `batch` sequences per forward.
std::vector<std::string> generate_all(LoadedModel& m, const std::vector<std::vector<int32_t>>& ids,
                                      const std::vector<int32_t>& stop_ids, int max_tokens,
                                      int batch) {
  std::vector<std::string> out(ids.size());
  for (size_t b = 0; b < ids.size(); b += size_t(batch)) {
    const size_t e = std::min(ids.size(), b + size_t(batch));
    std::vector<std::unique_ptr<Sequence>> seqs;
    std::vector<Sequence*> ptrs;
    // The caches of one forward call share one capacity: the longest prompt plus the answer.
    const int n_ctx = m.model.config().n_ctx;
    size_t longest = 1;
    for (size_t i = b; i < e; ++i) longest = std::max(longest, ids[i].size());
    const int capacity = std::min(n_ctx, int(longest) + max_tokens);
    for (size_t i = b; i < e; ++i) {
      GenerateRequest req;
      req.prompt = ids[i];
      // A prompt that fills the context keeps its last tokens and gets a short answer.
      if (int(req.prompt.size()) >= capacity)
        req.prompt.erase(req.prompt.begin(), req.prompt.end() - (capacity - 1));
      req.max_tokens = std::max(1, std::min(max_tokens, capacity - int(req.prompt.size())));
      req.sampling.temperature = 0.0f;
      req.stop_ids = stop_ids;
      req.stop = {"\n\n"};
      seqs.push_back(
          std::make_unique<Sequence>(*m.infer, m.tokenizer, std::move(req), nullptr, capacity));
      ptrs.push_back(seqs.back().get());
    }
    while (std::any_of(ptrs.begin(), ptrs.end(), [](Sequence* s) { return !s->done(); }))
      step(*m.infer, ptrs);
    for (size_t i = b; i < e; ++i) out[i] = ptrs[i - b]->text();
  }
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace((unsigned char)s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace((unsigned char)s[i])) ++i;
  return s.substr(i);
}

}  // namespace

AnswerResult answer_prompts(const AnswerOptions& opt) {
  auto m = LoadedModel::load(opt.model);
  std::vector<int32_t> stop_ids = m->eos_ids;
  ChatTemplate tmpl;
  if (opt.chat) {
    tmpl = m->chat_template();
    for (int32_t id : tmpl.stop_ids(m->tokenizer)) stop_ids.push_back(id);
  }
  auto encode = [&](const std::string& prompt) {
    if (!opt.chat) return m->encode_prompt(prompt);
    return tmpl.encode(m->tokenizer, {ChatMessage{"user", prompt}}, true);
  };
  std::vector<std::vector<int32_t>> ids;
  for (const auto& p : opt.prompts) ids.push_back(encode(p));
  std::vector<std::string> refs;
  if (!opt.heldout.empty()) {
    JsonlReader r(opt.heldout);
    nlohmann::json obj;
    while (int(refs.size()) < opt.heldout_max && r.next(obj)) {
      const auto& msgs = r.location().required_array(obj, "messages");
      std::string user, ref;
      for (const auto& msg : msgs) {
        const std::string role = r.location().required_string(msg, "role", "messages[].role");
        const std::string content =
            r.location().required_string(msg, "content", "messages[].content");
        if (role == "user" && user.empty()) user = content;
        if (role == "assistant") ref = content;
      }
      if (user.empty() || ref.empty())
        r.location().fail("messages", "a held-out example needs a user and an assistant turn");
      ids.push_back(encode(user));
      refs.push_back(ref);
    }
  }
  std::vector<std::string> answers =
      generate_all(*m, ids, stop_ids, opt.max_tokens, std::max(1, opt.batch));
  AnswerResult res;
  for (size_t i = 0; i < opt.prompts.size(); ++i)
    res.samples.emplace_back(opt.prompts[i], trim(answers[i]));
  for (size_t k = 0; k < refs.size(); ++k) {
    ++res.heldout_n;
    if (contains_answer(answers[opt.prompts.size() + k], refs[k])) ++res.heldout_correct;
  }
  return res;
}

}  // namespace lmforge
