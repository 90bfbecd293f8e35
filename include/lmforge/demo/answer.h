// Greedy answers of a model to a list of prompts, and held-out instruction accuracy: the
// measurement behind `lmforge demo answer`, which the pipeline runner calls as a probe. Plain
// prompts are continued as text; with `chat` each prompt is one user turn rendered by the
// model's chat template and the answer is the assistant turn.
// Held-out accuracy: the share of held-out chat examples whose answer equals the reference (the
// last assistant message) after normalisation (exact_answer in demo_data.h; `contains` scores
// the older "contains the reference" instead), overall and per kind (the line's "kind" field;
// "all" when it has none). When the file has more than `heldout_max` examples they are taken
// from every kind in turn, in file order, so a file written kind by kind is still sampled evenly.
// With `versus` (another model directory), that model answers the same held-out prompts greedily
// too and the simulated ranker judges each pair (demo/win_rate.h): the ranker win rate of `model`
// over `versus`, the alignment stages' measure against the model they started from.
// Not here: sampling options (greedy only, so probes are comparable between stages).
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lmforge/demo/win_rate.h"

namespace lmforge {

struct AnswerOptions {
  std::filesystem::path model;
  std::vector<std::string> prompts;
  bool chat = false;
  std::filesystem::path heldout;  // chat JSONL; empty: no accuracy
  int heldout_max = 60;           // examples scored at most, spread over the kinds
  std::string metric = "exact";   // exact | contains
  int max_tokens = 48;
  int batch = 16;                // sequences decoded together
  std::filesystem::path versus;  // a baseline model for the ranker win rate ("" none)
};

// One held-out example: what was asked, the reference, the model's answer.
struct HeldoutAnswer {
  std::string kind, prompt, reference, answer;
  bool correct = false;
  std::string versus_answer;  // the baseline model's answer (with AnswerOptions::versus)
};

struct KindScore {
  int n = 0, correct = 0;
  double accuracy() const { return n ? double(correct) / n : 0.0; }
};

struct AnswerResult {
  std::vector<std::pair<std::string, std::string>> samples;  // (prompt, answer)
  std::vector<HeldoutAnswer> heldout;
  int heldout_n = 0, heldout_correct = 0;
  std::optional<RankerWinRate> win_rate;  // over AnswerOptions::versus, when given
  double accuracy() const { return heldout_n ? double(heldout_correct) / heldout_n : 0.0; }
  std::map<std::string, KindScore> by_kind() const;
};

// Reads a held-out chat JSONL (prompt = the first user message, reference = the last assistant
// message, kind = "kind" or "all"); InputError naming the line otherwise. Keeps at most `max`
// examples, taken from each kind in turn (file order within a kind).
std::vector<HeldoutAnswer> read_heldout(const std::filesystem::path& file, int max);

AnswerResult answer_prompts(const AnswerOptions& opt);

}  // namespace lmforge
