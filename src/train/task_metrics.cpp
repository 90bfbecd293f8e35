// Task metrics (see task_metrics.h for the exact definitions and the tools they agree with).
#include "lmforge/train/task_metrics.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "lmforge/core/error.h"

namespace lmforge {
namespace {

void check_sizes(const char* name, size_t h, size_t r) {
  if (h != r)
    throw RuntimeError(std::string("[") + name + "] " + std::to_string(h) + " hypotheses vs " +
                       std::to_string(r) + " references");
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

bool is_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

// Code points of UTF-8 text without whitespace (sacreBLEU removes it before chrF).
std::vector<uint32_t> code_points_no_space(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) {  // invalid: one byte is one point
      out.push_back(0x110000u + c);
      ++i;
      continue;
    }
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    if (!(len == 1 && is_space(c))) out.push_back(cp);
    i += len;
  }
  return out;
}

template <class Seq>
std::map<Seq, int64_t> ngrams(const Seq& s, size_t n) {
  std::map<Seq, int64_t> m;
  for (size_t i = 0; i + n <= s.size(); ++i) ++m[Seq(s.begin() + i, s.begin() + i + n)];
  return m;
}

// (hyp n-grams, ref n-grams, clipped matches) for one order.
template <class Seq>
void ngram_stats(const Seq& hyp, const Seq& ref, size_t n, int64_t* out) {
  auto h = ngrams(hyp, n), r = ngrams(ref, n);
  int64_t th = 0, tr = 0, m = 0;
  for (auto& [g, c] : h) {
    th += c;
    auto it = r.find(g);
    if (it != r.end()) m += std::min(c, it->second);
  }
  for (auto& [g, c] : r) tr += c;
  out[0] += th;
  out[1] += tr;
  out[2] += m;
}

}  // namespace

double exact_match(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  check_sizes("exact_match", hyps.size(), refs.size());
  if (refs.empty()) return 0;
  size_t n = 0;
  for (size_t i = 0; i < refs.size(); ++i) n += trim(hyps[i]) == trim(refs[i]);
  return double(n) / refs.size();
}

double contains_answer(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  check_sizes("contains_answer", hyps.size(), refs.size());
  if (refs.empty()) return 0;
  size_t n = 0;
  for (size_t i = 0; i < refs.size(); ++i)
    n += std::string_view(hyps[i]).find(trim(refs[i])) != std::string_view::npos;
  return double(n) / refs.size();
}

double token_accuracy(const std::vector<std::vector<int32_t>>& hyps,
                      const std::vector<std::vector<int32_t>>& refs) {
  check_sizes("token_accuracy", hyps.size(), refs.size());
  int64_t hit = 0, total = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    total += refs[i].size();
    for (size_t t = 0; t < refs[i].size() && t < hyps[i].size(); ++t)
      hit += hyps[i][t] == refs[i][t];
  }
  return total ? double(hit) / total : 0;
}

double chrf(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  check_sizes("chrf", hyps.size(), refs.size());
  const int order = 6;
  const double beta2 = 4.0;  // beta = 2: recall weighs twice as much as precision
  int64_t st[order][3] = {};
  for (size_t i = 0; i < refs.size(); ++i) {
    auto h = code_points_no_space(hyps[i]), r = code_points_no_space(refs[i]);
    for (int n = 1; n <= order; ++n) ngram_stats(h, r, n, st[n - 1]);
  }
  double p = 0, r = 0;
  int eff = 0;
  for (int n = 0; n < order; ++n)
    if (st[n][0] > 0 && st[n][1] > 0) {
      p += double(st[n][2]) / st[n][0];
      r += double(st[n][2]) / st[n][1];
      ++eff;
    }
  if (eff == 0) return 0;
  p /= eff;
  r /= eff;
  if (p + r == 0) return 0;
  return 100.0 * (1 + beta2) * p * r / (beta2 * p + r);
}

std::vector<std::string> tokenize_13a(std::string_view text) {
  // The four substitutions of mteval-v13a, applied in order on a padded copy.
  auto punct = [](unsigned char c) {
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
           (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
  };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::string s;
  for (char c : text) {  // newlines become spaces (sacreBLEU joins lines)
    s += c == '\n' ? ' ' : c;
  }
  s = " " + s + " ";
  std::string a;
  for (char c : s) {
    if (punct(static_cast<unsigned char>(c)) && c != ' ')
      a += std::string(" ") + c + " ";
    else
      a += c;
  }
  // ([^0-9])([\.,]) -> \1 \2 ; non-overlapping left-to-right, like re.sub.
  std::string b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (i + 1 < a.size() && !digit(a[i]) && (a[i + 1] == '.' || a[i + 1] == ',')) {
      b += a[i];
      b += ' ';
      b += a[i + 1];
      b += ' ';
      ++i;
    } else {
      b += a[i];
    }
  }
  // ([\.,])([^0-9]) -> " \1 \2"
  std::string c;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i + 1 < b.size() && (b[i] == '.' || b[i] == ',') && !digit(b[i + 1])) {
      c += ' ';
      c += b[i];
      c += ' ';
      c += b[i + 1];
      ++i;
    } else {
      c += b[i];
    }
  }
  // ([0-9])(-) -> "\1 \2 "
  std::string d;
  for (size_t i = 0; i < c.size(); ++i) {
    if (i + 1 < c.size() && digit(c[i]) && c[i + 1] == '-') {
      d += c[i];
      d += " - ";
      ++i;
    } else {
      d += c[i];
    }
  }
  std::vector<std::string> out;
  std::string cur;
  for (char ch : d) {
    if (is_space(static_cast<unsigned char>(ch))) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

double bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  check_sizes("bleu", hyps.size(), refs.size());
  const int order = 4;
  int64_t st[order][3] = {};
  int64_t sys_len = 0, ref_len = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    auto h = tokenize_13a(hyps[i]), r = tokenize_13a(refs[i]);
    sys_len += h.size();
    ref_len += r.size();
    for (int n = 1; n <= order; ++n) ngram_stats(h, r, n, st[n - 1]);
  }
  if (sys_len == 0) return 0;
  // "exp" smoothing (mteval's): the k-th order with no match gets precision 1 / (2^k · total).
  double smooth = 1, log_sum = 0;
  for (int n = 0; n < order; ++n) {
    double p;
    if (st[n][0] == 0) {
      p = 0;
    } else if (st[n][2] == 0) {
      smooth *= 2;
      p = 1.0 / (smooth * st[n][0]);
    } else {
      p = double(st[n][2]) / st[n][0];
    }
    if (p <= 0) return 0;  // no hypothesis n-grams of this order: sacreBLEU's log(0) -> score 0
    log_sum += std::log(p);
  }
  const double bp = sys_len < ref_len ? std::exp(1.0 - double(ref_len) / sys_len) : 1.0;
  return 100.0 * bp * std::exp(log_sum / order);
}

std::vector<std::string> tokenize_rouge(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char c : text) {
    unsigned char l = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l >= 0x80) {
      cur += char(l);
    } else if (!cur.empty()) {
      out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

double rouge_l(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  check_sizes("rouge_l", hyps.size(), refs.size());
  if (refs.empty()) return 0;
  double sum = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    auto h = tokenize_rouge(hyps[i]), r = tokenize_rouge(refs[i]);
    if (h.empty() || r.empty()) continue;
    std::vector<int> prev(h.size() + 1, 0), cur(h.size() + 1, 0);  // LCS by rows of r
    for (size_t a = 1; a <= r.size(); ++a) {
      for (size_t b = 1; b <= h.size(); ++b)
        cur[b] = r[a - 1] == h[b - 1] ? prev[b - 1] + 1 : std::max(prev[b], cur[b - 1]);
      std::swap(prev, cur);
    }
    const double lcs = prev[h.size()];
    if (lcs == 0) continue;
    const double p = lcs / h.size(), rc = lcs / r.size();
    sum += 2 * p * rc / (p + rc);
  }
  return 100.0 * sum / refs.size();
}

double text_metric(const std::string& name, const std::vector<std::string>& hyps,
                   const std::vector<std::string>& refs) {
  if (name == "exact") return exact_match(hyps, refs);
  if (name == "contains") return contains_answer(hyps, refs);
  if (name == "chrf") return chrf(hyps, refs);
  if (name == "bleu") return bleu(hyps, refs);
  if (name == "rougeL") return rouge_l(hyps, refs);
  throw UsageError("unknown metric '" + name + "' (hint: exact, contains, chrf, bleu or rougeL)");
}

std::string auto_metric(const std::vector<std::string>& refs) {
  for (const auto& r : refs) {
    int words = 0;
    bool in = false;
    for (unsigned char c : r) {
      if (is_space(c))
        in = false;
      else if (!in)
        in = true, ++words;
    }
    if (words > 3) return "chrf";
  }
  return "exact";
}

}  // namespace lmforge
