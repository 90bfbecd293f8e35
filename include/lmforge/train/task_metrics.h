// Task metrics for generated text against references, corpus level, our own code:
//   exact match     fraction of pairs equal after trimming surrounding whitespace, in [0, 1]
//   contains        fraction of hypotheses that contain the trimmed reference, in [0, 1]
//   token accuracy  fraction of reference tokens predicted at their position, in [0, 1]
//   chrF            Popović 2015 as sacreBLEU computes it (char order 6, beta 2, whitespace
//                   removed, n-gram statistics summed over the corpus, precision and recall
//                   averaged over the orders with n-grams on both sides), 0..100
//   BLEU            Papineni 2002 as sacreBLEU computes it (13a tokenization, 4-grams, clipped
//                   counts summed over the corpus, brevity penalty, "exp" smoothing), 0..100
//   ROUGE-L         Lin 2004 as Google's rouge_score computes it (lowercase, runs of [a-z0-9]
//                   as tokens, LCS F1 per pair, averaged), 0..100; bytes >= 0x80 also count as
//                   token characters so that non-English text is not dropped.
// chrF counts Unicode code points (UTF-8 decoded; invalid bytes count as one point each).
// Not here: generation (finetune.h), multi-reference scoring, chrF++ word n-grams.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge {

double exact_match(const std::vector<std::string>& hyps, const std::vector<std::string>& refs);
double contains_answer(const std::vector<std::string>& hyps, const std::vector<std::string>& refs);
// Position-wise: sum over pairs of |{i < len(ref): hyp[i] == ref[i]}| / sum of len(ref).
double token_accuracy(const std::vector<std::vector<int32_t>>& hyps,
                      const std::vector<std::vector<int32_t>>& refs);
double chrf(const std::vector<std::string>& hyps, const std::vector<std::string>& refs);
double bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs);
double rouge_l(const std::vector<std::string>& hyps, const std::vector<std::string>& refs);

// sacreBLEU's 13a tokenizer (mteval-v13a): punctuation split off, "." and "," split unless
// between digits, "-" split after a digit.
std::vector<std::string> tokenize_13a(std::string_view text);
// rouge_score's default tokenizer (see above).
std::vector<std::string> tokenize_rouge(std::string_view text);

// By name: "exact", "contains", "chrf", "bleu", "rougeL" (UsageError otherwise). token accuracy
// needs ids and is computed by the caller.
double text_metric(const std::string& name, const std::vector<std::string>& hyps,
                   const std::vector<std::string>& refs);
// The default for --eval-metric auto: exact match when every reference is short (at most 3
// words: labels, answers), chrF otherwise (generation tasks).
std::string auto_metric(const std::vector<std::string>& refs);

}  // namespace lmforge
