// The harness's scoring rules (eval/metrics.h): argmax with numpy's tie and NaN behaviour,
// character-length normalisation, mean_stderr, bootstrap, weighted perplexities, the regex answer
// filter and exact match. Regexes are PCRE2 (Python's re syntax for the patterns tasks use).
// Not here: anything that needs the model.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "lmforge/eval/metrics.h"

#include <pcre2.h>

#include <cmath>
#include <memory>
#include <random>

#include "lmforge/core/error.h"

namespace lmforge {
namespace {

bool is_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

std::string strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space((unsigned char)s[b])) ++b;
  while (e > b && is_space((unsigned char)s[e - 1])) --e;
  return s.substr(b, e - b);
}

struct Regex {
  std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)> code{nullptr, pcre2_code_free};
  explicit Regex(const std::string& pattern) {
    int err = 0;
    PCRE2_SIZE off = 0;
    code.reset(pcre2_compile((PCRE2_SPTR)pattern.data(), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                             &err, &off, nullptr));
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw UsageError("regex '" + pattern + "' at offset " + std::to_string(off) + ": " +
                       reinterpret_cast<const char*>(msg));
    }
  }
  int groups() const {
    uint32_t n = 0;
    pcre2_pattern_info(code.get(), PCRE2_INFO_CAPTURECOUNT, &n);
    return (int)n;
  }
};

// Python's re.findall: every non-overlapping match, as the capture groups' texts ("" for a group
// that did not take part) or the whole match when the pattern has no group.
std::vector<std::vector<std::string>> find_all(const Regex& re, const std::string& s) {
  std::vector<std::vector<std::string>> out;
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(re.code.get(), nullptr), pcre2_match_data_free);
  const int G = re.groups();
  size_t at = 0;
  while (at <= s.size()) {
    const int rc =
        pcre2_match(re.code.get(), (PCRE2_SPTR)s.data(), s.size(), at, 0, md.get(), nullptr);
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    std::vector<std::string> m;
    if (G == 0) {
      m.push_back(s.substr(ov[0], ov[1] - ov[0]));
    } else {
      for (int g = 1; g <= G; ++g)
        m.push_back(g < rc && ov[2 * g] != PCRE2_UNSET
                        ? s.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g])
                        : std::string());
    }
    out.push_back(std::move(m));
    if (ov[1] > ov[0]) {
      at = ov[1];
    } else {  // an empty match: step over one character
      at = ov[1] + 1;
      while (at < s.size() && ((unsigned char)s[at] & 0xC0) == 0x80) ++at;
    }
  }
  return out;
}

std::string replace_all(const std::string& pattern, const std::string& s) {
  Regex re(pattern);
  std::string out;
  size_t last = 0;
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(re.code.get(), nullptr), pcre2_match_data_free);
  size_t at = 0;
  while (at <= s.size()) {
    if (pcre2_match(re.code.get(), (PCRE2_SPTR)s.data(), s.size(), at, 0, md.get(), nullptr) < 0)
      break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    out += s.substr(last, ov[0] - last);
    last = ov[1];
    at = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    if (ov[1] == ov[0] && ov[1] < s.size()) {  // keep the character an empty match stepped over
      size_t e = ov[1] + 1;
      while (e < s.size() && ((unsigned char)s[e] & 0xC0) == 0x80) ++e;
      out += s.substr(ov[1], e - ov[1]);
      last = at = e;
    }
  }
  if (last < s.size()) out += s.substr(last);
  return out;
}

std::string normalise(std::string s, const ExactMatchOptions& opt) {
  for (const auto& r : opt.regexes_to_ignore) s = replace_all(r, s);
  if (opt.ignore_case)
    for (char& c : s)
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  if (opt.ignore_punctuation) {
    std::string t;
    for (char c : s)
      if (!std::ispunct((unsigned char)c)) t += c;
    s = t;
  }
  return s;
}

}  // namespace

int argmax_first(std::span<const double> v) {
  int best = -1;
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) return (int)i;
    if (best < 0 || v[i] > v[best]) best = (int)i;
  }
  return best;
}

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = (unsigned char)s[i];
    const size_t len = c < 0x80         ? 1
                       : (c >> 5) == 6  ? 2
                       : (c >> 4) == 14 ? 3
                       : (c >> 3) == 30 ? 4
                                        : 1;
    bool ok = i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
    i += ok ? len : 1;
    ++n;
  }
  return n;
}

ChoiceScore score_choices(std::span<const double> lls, const std::vector<std::string>& choices,
                          const std::vector<int>& gold) {
  check(lls.size() == choices.size(), "score_choices", "one log-likelihood per choice");
  std::vector<double> norm(lls.size());
  for (size_t i = 0; i < lls.size(); ++i) norm[i] = lls[i] / double(utf8_length(choices[i]));
  ChoiceScore s;
  s.pred = argmax_first(lls);
  s.pred_norm = argmax_first(norm);
  for (int g : gold) {
    if (g == s.pred) s.acc = 1;
    if (g == s.pred_norm) s.acc_norm = 1;
  }
  return s;
}

double mean_stderr(std::span<const double> xs) {
  const size_t n = xs.size();
  if (n < 2) return 0;
  double mu = 0;
  for (double x : xs) mu += x;
  mu /= double(n);
  double ss = 0;
  for (double x : xs) ss += (x - mu) * (x - mu);
  return std::sqrt(ss / double(n - 1)) / std::sqrt(double(n));
}

double bootstrap_stderr(size_t n, const std::function<double(std::span<const size_t>)>& stat,
                        int iters, uint64_t seed) {
  if (n == 0 || iters < 2) return 0;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<size_t> sample(n);
  std::vector<double> reps;
  reps.reserve((size_t)iters);
  for (int i = 0; i < iters; ++i) {
    for (auto& s : sample) s = pick(rng);
    reps.push_back(stat(sample));
  }
  return mean_stderr(reps) * std::sqrt(double(reps.size()));  // sample stddev of the replicates
}

PerplexityScores aggregate_perplexity(std::span<const DocLogLik> docs,
                                      std::span<const size_t> pick) {
  double ll = 0, words = 0, bytes = 0;
  auto add = [&](const DocLogLik& d) {
    ll += d.ll, words += double(d.words), bytes += double(d.bytes);
  };
  if (pick.empty())
    for (const auto& d : docs) add(d);
  else
    for (size_t i : pick) add(docs[i]);
  PerplexityScores s;
  s.word_perplexity = std::exp(-ll / words);
  s.byte_perplexity = std::exp(-ll / bytes);
  s.bits_per_byte = -ll / bytes / std::log(2.0);
  return s;
}

int64_t count_words(const std::string& text) {
  int64_t n = 1;
  for (size_t i = 0; i < text.size();) {
    if (is_space((unsigned char)text[i])) {
      ++n;
      while (i < text.size() && is_space((unsigned char)text[i])) ++i;
    } else {
      ++i;
    }
  }
  return n;
}

std::string extract_answer(const std::string& response, const std::string& pattern,
                           int group_select, const std::string& fallback) {
  if (pattern.empty()) return strip(response);
  const Regex re(pattern);
  const auto matches = find_all(re, response);
  if (matches.empty()) return fallback;
  const int n = (int)matches.size();
  const int k = group_select < 0 ? n + group_select : group_select;
  if (k < 0 || k >= n) return fallback;
  const auto& m = matches[(size_t)k];
  if (m.size() == 1) return strip(m[0]);
  for (const auto& g : m)
    if (!g.empty()) return strip(g);
  return fallback;
}

double exact_match(const std::string& prediction, const std::vector<std::string>& answers,
                   const ExactMatchOptions& opt) {
  const std::string p = normalise(prediction, opt);
  for (const auto& a : answers)
    if (normalise(a, opt) == p) return 1;
  return 0;
}

}  // namespace lmforge
