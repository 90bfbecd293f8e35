// The scoring rules of lm-evaluation-harness, as pure functions (no model): what turns the
// log-likelihoods of a question's choices into acc / acc_norm, a generated text into exact_match,
// documents' log-likelihoods into word/byte perplexity and bits per byte, and per-row scores into a
// standard error. Each follows the harness's definition (docs/EVAL.md cites them); where the
// harness reports no standard error (the weighted perplexities) ours is a seeded bootstrap.
// Not here: computing log-likelihoods (eval/loglik.h).
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace lmforge {

// numpy.argmax semantics: the first NaN if any (NaN compares as the maximum), else the first
// index of the maximum (ties: the lowest index). -1 for an empty list.
int argmax_first(std::span<const double> v);

// Length of a string in Unicode code points (Python's len() of the decoded str); invalid bytes
// count one each.
size_t utf8_length(const std::string& s);

struct ChoiceScore {
  int pred = -1, pred_norm = -1;  // argmax of ll, of ll / len(choice)
  double acc = 0, acc_norm = 0;   // 1 when the prediction is a gold index
};
// acc: argmax of the summed log-likelihoods; acc_norm: argmax of ll / len(choice) with len in
// characters of the choice WITHOUT the target delimiter, IEEE division (an empty choice divides by
// zero: -inf for ll < 0, NaN for ll == 0, and a NaN wins the argmax, as in numpy).
ChoiceScore score_choices(std::span<const double> lls, const std::vector<std::string>& choices,
                          const std::vector<int>& gold);

// The harness's mean_stderr: sample standard deviation (n - 1) / sqrt(n); 0 for n < 2.
double mean_stderr(std::span<const double> xs);

// Standard deviation (n - 1) of `iters` bootstrap replicates of stat over resamples with
// replacement of the n items, drawn by a generator seeded with `seed`.
double bootstrap_stderr(size_t n, const std::function<double(std::span<const size_t>)>& stat,
                        int iters, uint64_t seed);

// Per-document results of a perplexity task and their corpus-level aggregates:
// word_perplexity = exp(-Σll / Σwords), byte_perplexity = exp(-Σll / Σbytes),
// bits_per_byte = -Σll / Σbytes / ln 2 (the harness's weighted_perplexity and bits_per_byte).
struct DocLogLik {
  double ll = 0;
  int64_t words = 0, bytes = 0, tokens = 0;
};
struct PerplexityScores {
  double word_perplexity = 0, byte_perplexity = 0, bits_per_byte = 0;
};
PerplexityScores aggregate_perplexity(std::span<const DocLogLik> docs,
                                      std::span<const size_t> pick = {});
// Words as the harness counts them: len(re.split(r"\s+", text)) (so leading/trailing whitespace
// adds an empty piece, and "" is one word).
int64_t count_words(const std::string& text);

// Generation scoring. The answer-extraction filter (harness RegexFilter): all matches of
// `pattern`, the one at group_select (negative counts from the end); its text is the first
// capture group that matched (the whole match when the pattern has no group), stripped; no
// match: `fallback`. An empty pattern returns the response stripped.
std::string extract_answer(const std::string& response, const std::string& pattern,
                           int group_select = 0, const std::string& fallback = "[invalid]");
struct ExactMatchOptions {
  std::vector<std::string> regexes_to_ignore;  // removed from both sides first (re.sub(r, ""))
  bool ignore_case = false;
  bool ignore_punctuation = false;  // ASCII string.punctuation
};
// 1 when prediction equals any of the answers after the options' normalisation, else 0.
double exact_match(const std::string& prediction, const std::vector<std::string>& answers,
                   const ExactMatchOptions& opt);

}  // namespace lmforge
