// Greedy answers of a model to a list of prompts, and held-out instruction accuracy: the
// measurement behind `lmforge demo answer`, which the pipeline runner calls as a probe. Plain
// prompts are continued as text; with `chat` each prompt is one user turn rendered by the
// model's chat template and the answer is the assistant turn. Accuracy = share of held-out
// chat examples whose answer contains the reference (the last assistant message), ignoring case.
// Not here: sampling options (greedy only, so probes are comparable between stages).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace lmforge {

struct AnswerOptions {
  std::filesystem::path model;
  std::vector<std::string> prompts;
  bool chat = false;
  std::filesystem::path heldout;  // chat JSONL; empty: no accuracy
  int heldout_max = 60;           // first N examples of it
  int max_tokens = 48;
  int batch = 16;  // sequences decoded together
};

struct AnswerResult {
  std::vector<std::pair<std::string, std::string>> samples;  // (prompt, answer)
  int heldout_n = 0, heldout_correct = 0;
  double accuracy() const { return heldout_n ? double(heldout_correct) / heldout_n : 0.0; }
};

AnswerResult answer_prompts(const AnswerOptions& opt);

}  // namespace lmforge
