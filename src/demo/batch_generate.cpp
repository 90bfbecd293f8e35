// Batched answers through the inference engine (see batch_generate.h).
#include "demo/batch_generate.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include "lmforge/infer/generate.h"

namespace lmforge::demo_detail {

namespace {
std::string trim(std::string s) {
  while (!s.empty() && std::isspace((unsigned char)s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace((unsigned char)s[i])) ++i;
  return s.substr(i);
}
}  // namespace

std::vector<std::string> generate_all(LoadedModel& m, const std::vector<std::vector<int32_t>>& ids,
                                      const std::vector<int32_t>& stop_ids, int max_tokens,
                                      int batch, const SamplingParams& sampling) {
  std::vector<std::string> out(ids.size());
  batch = std::max(1, batch);
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
      req.sampling = sampling;
      req.sampling.seed = sampling.seed + uint64_t(i);
      req.stop_ids = stop_ids;
      req.stop = {"\n\n"};
      seqs.push_back(
          std::make_unique<Sequence>(*m.infer, m.tokenizer, std::move(req), nullptr, capacity));
      ptrs.push_back(seqs.back().get());
    }
    while (std::any_of(ptrs.begin(), ptrs.end(), [](Sequence* s) { return !s->done(); }))
      step(*m.infer, ptrs);
    for (size_t i = b; i < e; ++i) out[i] = trim(ptrs[i - b]->text());
  }
  return out;
}

PromptEncoder::PromptEncoder(LoadedModel& m, bool chat) : m_(m), chat_(chat) {
  stop_ids = m.eos_ids;
  if (chat) {
    tmpl_ = m.chat_template();
    for (int32_t id : tmpl_.stop_ids(m.tokenizer)) stop_ids.push_back(id);
  }
}

std::vector<int32_t> PromptEncoder::encode(const std::string& prompt) const {
  if (!chat_) return m_.encode_prompt(prompt);
  return tmpl_.encode(m_.tokenizer, {ChatMessage{"user", prompt}}, true);
}

}  // namespace lmforge::demo_detail
