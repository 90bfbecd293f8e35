// The simulated ranker and the answer scoring every demo probe shares (see demo/demo_data.h):
// normalisation, graded credit (right first, partly right gets partial credit), exact match, and
// the ranking rule (credit first, then the shorter answer). Pure functions on strings.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "lmforge/demo/demo_data.h"
#include "lmforge/demo/win_rate.h"

namespace lmforge {

const char* const kSimulatedRankerRule =
    "SIMULATED RANKER (no human ranked these answers): each answer gets a credit in [0, 1]: 1 when "
    "it equals the reference answer (ignoring case, spaces, quotes and final punctuation); 0.5 to "
    "0.9 when it contains the reference with other words around it (0.5 + 0.4 x word F1); "
    "otherwise half its overlap with the reference (the larger of word F1 and character-bigram "
    "F1; an overlap under 0.25 counts as none), so right beats partly right beats wrong. Higher "
    "credit ranks first; among answers of equal credit (to 0.01) the shorter one wins.";

namespace {

bool word_char(char c) {
  return std::isalnum((unsigned char)c) || (unsigned char)c >= 0x80 || c == '\'';
}

std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> out;
  std::string w;
  for (char c : s) {
    if (word_char(c)) {
      w += c;
    } else if (!w.empty()) {
      out.push_back(w);
      w.clear();
    }
  }
  if (!w.empty()) out.push_back(w);
  return out;
}

// F1 of two multisets.
template <class T>
double multiset_f1(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.empty() || b.empty()) return 0.0;
  std::map<T, int> ca;
  for (const auto& x : a) ++ca[x];
  int common = 0;
  for (const auto& x : b)
    if (auto it = ca.find(x); it != ca.end() && it->second > 0) --it->second, ++common;
  if (common == 0) return 0.0;
  const double p = double(common) / double(a.size()), r = double(common) / double(b.size());
  return 2 * p * r / (p + r);
}

std::vector<std::string> bigrams(const std::string& s) {
  std::vector<std::string> out;
  if (s.size() == 1) out.push_back(s);
  for (size_t i = 0; i + 1 < s.size(); ++i) out.push_back(s.substr(i, 2));
  return out;
}

}  // namespace

std::string normalize_answer(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace((unsigned char)c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += char(std::tolower((unsigned char)c));
  }
  // Quotes and final punctuation do not change an answer: "Haus." == haus.
  auto strip = [](char c) { return c == '"' || c == '\'' || c == '.' || c == '!' || c == '?'; };
  while (!out.empty() && (strip(out.back()) || out.back() == ' ')) out.pop_back();
  size_t b = 0;
  while (b < out.size() && (strip(out[b]) || out[b] == ' ')) ++b;
  return out.substr(b);
}

bool exact_answer(const std::string& answer, const std::string& reference) {
  const std::string r = normalize_answer(reference);
  return !r.empty() && normalize_answer(answer) == r;
}

double answer_credit(const std::string& answer, const std::string& reference) {
  const std::string a = normalize_answer(answer), r = normalize_answer(reference);
  if (r.empty() || a.empty()) return 0.0;
  if (a == r) return 1.0;
  const double words = multiset_f1(words_of(a), words_of(r));
  // The right answer with more around it: right, but less so the more there is.
  if (contains_answer(a, r)) return 0.5 + 0.4 * words;
  // Below a quarter the overlap is chance (a shared "er" in two unrelated words): no credit.
  const double overlap = std::max(words, multiset_f1(bigrams(a), bigrams(r)));
  return overlap < 0.25 ? 0.0 : 0.5 * overlap;
}

std::vector<std::string> simulated_rank(std::vector<std::string> answers,
                                        const std::string& reference) {
  // The one order of the rule (ranker_prefers_keyed, also the win-rate judge) on credits
  // computed once per answer, then byte order so the ranking is total and deterministic.
  std::vector<std::pair<long, std::string>> keyed;
  for (auto& a : answers) keyed.emplace_back(ranker_credit_key(a, reference), std::move(a));
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& x, const auto& y) {
    if (const int p = ranker_prefers_keyed(x.first, x.second, y.first, y.second); p != 0)
      return p > 0;
    return x.second < y.second;
  });
  for (size_t i = 0; i < keyed.size(); ++i) answers[i] = std::move(keyed[i].second);
  return answers;
}

bool contains_answer(const std::string& answer, const std::string& reference) {
  const std::string r = normalize_answer(reference);
  if (r.empty()) return false;
  // Whole words only: "a" is not contained in "cat", but "das Haus" is in "Es ist das Haus.".
  std::string a;
  for (char c : answer) a += char(std::tolower((unsigned char)c));
  for (size_t p = a.find(r); p != std::string::npos; p = a.find(r, p + 1)) {
    const bool left = p == 0 || !word_char(a[p - 1]) || !word_char(r.front());
    const size_t e = p + r.size();
    const bool right = e == a.size() || !word_char(a[e]) || !word_char(r.back());
    if (left && right) return true;
  }
  return false;
}

}  // namespace lmforge
