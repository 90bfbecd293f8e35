// Answers to many prompts, `batch` sequences decoded together, greedy or sampled: shared by
// `demo answer` (greedy probes) and `demo rank` (several sampled answers per prompt). Not a
// public API.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lmforge/infer/loaded_model.h"
#include "lmforge/infer/sampler.h"

namespace lmforge::demo_detail {

// One answer per prompt (token ids), stopped at a stop id or a blank line, whitespace trimmed.
// sampling.seed + i seeds prompt i's sampler, so the answers do not depend on the batching.
std::vector<std::string> generate_all(LoadedModel& m, const std::vector<std::vector<int32_t>>& ids,
                                      const std::vector<int32_t>& stop_ids, int max_tokens,
                                      int batch, const SamplingParams& sampling);

// The ids that end an answer (EOS, and the chat template's markers with `chat`) and an encoder
// of one prompt (a user turn rendered by the chat template with `chat`, plain text otherwise).
struct PromptEncoder {
  PromptEncoder(LoadedModel& m, bool chat);
  std::vector<int32_t> encode(const std::string& prompt) const;
  std::vector<int32_t> stop_ids;

 private:
  LoadedModel& m_;
  bool chat_;
  ChatTemplate tmpl_;
};

}  // namespace lmforge::demo_detail
