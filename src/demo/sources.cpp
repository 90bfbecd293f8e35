// Cleaning of the demo corpus' dictionaries into records (see demo/sources.h). Byte-oriented:
// the only multi-byte characters handled specially are curly quotes and dashes, made ASCII.
#include "lmforge/demo/sources.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace lmforge {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace((unsigned char)s[b])) ++b;
  while (e > b && std::isspace((unsigned char)s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t e = s.find('\n', pos);
    if (e == std::string_view::npos) e = s.size();
    std::string_view l = s.substr(pos, e - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.push_back(l);
    pos = e + 1;
  }
  return out;
}

bool blank(std::string_view l) {
  return std::all_of(l.begin(), l.end(), [](char c) { return std::isspace((unsigned char)c); });
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
}

// Removes every `open ... close` group (not nested) whose span is at most max_len bytes.
std::string drop_groups(const std::string& s, char open, char close, size_t max_len) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == open) {
      size_t e = s.find(close, i + 1);
      if (e != std::string::npos && e - i <= max_len) {
        i = e + 1;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

// "{ chad box}" -> "chad box": the braces of a cross reference go, the words stay.
std::string unwrap_refs(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '{') {
      size_t e = s.find('}', i + 1);
      if (e != std::string::npos) {
        out += trim(std::string_view(s).substr(i + 1, e - i - 1));
        i = e + 1;
        continue;
      }
    }
    if (s[i] != '}') out += s[i];
    ++i;
  }
  return out;
}

bool is_date_stamp(const std::string& p) {
  // "(1994-11-07)" or "[75-10-04]"-like paragraphs: digits and dashes in parentheses/brackets.
  if (p.size() < 4) return false;
  if (!((p.front() == '(' && p.back() == ')') || (p.front() == '[' && p.back() == ']')))
    return false;
  return std::all_of(p.begin() + 1, p.end() - 1,
                     [](char c) { return std::isdigit((unsigned char)c) || c == '-'; });
}

std::string tidy(std::string s) {
  replace_all(s, "\xE2\x80\x9C", "\"");  // curly double quotes
  replace_all(s, "\xE2\x80\x9D", "\"");
  replace_all(s, "\xE2\x80\x98", "'");  // curly single quotes
  replace_all(s, "\xE2\x80\x99", "'");
  replace_all(s, "\xE2\x80\x94", " -- ");  // em dash
  replace_all(s, "\t", " ");
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  // Punctuation left after a removed group: "word ." -> "word.".
  for (std::string_view p : {" .", " ,", " ;", " :", " )"}) replace_all(out, p, p.substr(1));
  replace_all(out, "( ", "(");
  replace_all(out, "()", "");
  return trim(out);
}

// "/krip'ee/, n. A cryptographer." -> "A cryptographer.": a pronunciation that was not in the
// header block, and the part-of-speech words after it.
std::string strip_pronunciation(const std::string& p) {
  if (p.size() < 2 || p[0] != '/') return p;
  size_t e = p.find('/', 1);
  if (e == std::string::npos || e > 60) return p;
  std::string rest = p.substr(e + 1);
  static const char* const kPos[] = {
      "n.",    "v.",    "vt.",     "vi.", "adj.", "adv.", "pl.", "interj.", "excl.", "prep.",
      "pron.", "conj.", "abbrev.", "n",   "v",    "adj",  "vt",  "vi",      "and",   "or"};
  for (;;) {
    size_t b = 0;
    while (b < rest.size() && (rest[b] == ' ' || rest[b] == ',')) ++b;
    size_t w = b;
    while (w < rest.size() && rest[w] != ' ' && rest[w] != ',') ++w;
    const std::string word = rest.substr(b, w - b);
    bool pos = false;
    for (const char* k : kPos) pos |= word == k;
    if (!pos) return trim(rest.substr(b));
    rest = rest.substr(w);
  }
}

}  // namespace

std::string TermEntry::document() const {
  std::string d = headword;
  for (const auto& p : paragraphs) d += "\n" + p;
  return d;
}

TermEntry clean_term_entry(std::string_view raw) {
  TermEntry e;
  auto lines = split_lines(raw);
  size_t i = 0;
  while (i < lines.size() && blank(lines[i])) ++i;
  if (i == lines.size()) return e;
  e.headword = tidy(std::string(lines[i]));
  // The header block (pronunciation, part of speech, FOLDOC's alias lines) runs to the first
  // blank line.
  while (i < lines.size() && !blank(lines[i])) ++i;
  std::string para;
  auto flush = [&] {
    std::string p = trim(para);
    para.clear();
    if (p.empty()) return;
    p = unwrap_refs(p);
    if (is_date_stamp(p)) return;
    p = drop_groups(p, '<', '>', 120);  // FOLDOC <subject, tags>
    p = drop_groups(p, '[', ']', 300);  // Jargon [tags], etymologies, dates; FOLDOC citations
    p = tidy(p);
    if (p.empty() || is_date_stamp(p)) return;
    e.paragraphs.push_back(p);
  };
  for (; i < lines.size(); ++i) {
    if (blank(lines[i])) {
      flush();
      continue;
    }
    para += " ";
    para += trim(lines[i]);
  }
  flush();
  if (!e.paragraphs.empty()) {
    e.paragraphs.front() = strip_pronunciation(e.paragraphs.front());
    if (e.paragraphs.front().empty()) e.paragraphs.erase(e.paragraphs.begin());
  }
  return e;
}

std::string first_sentence(const TermEntry& e, int max_words) {
  if (e.paragraphs.empty()) return "";
  std::string p = e.paragraphs.front();
  // Drop a sense number "1. ".
  size_t d = 0;
  while (d < p.size() && std::isdigit((unsigned char)p[d])) ++d;
  if (d > 0 && d + 1 < p.size() && p[d] == '.' && p[d + 1] == ' ') p = p.substr(d + 2);
  // Drop a leading "(CPU) " / "(Or \"Shockwave Flash\") ": the answer starts with its content.
  if (!p.empty() && p[0] == '(') {
    size_t c = p.find(')');
    if (c != std::string::npos && c < 60 && c + 2 < p.size() && p[c + 1] == ' ')
      p = p.substr(c + 2);
  }
  // The sentence ends at ". " / "? " / "! " followed by an upper-case letter, or at the end.
  size_t end = p.size();
  for (size_t k = 0; k + 2 < p.size(); ++k) {
    if ((p[k] == '.' || p[k] == '?' || p[k] == '!') && p[k + 1] == ' ' &&
        std::isupper((unsigned char)p[k + 2])) {
      // "e.g. Foo" and single-letter initials ("R. Loos") do not end a sentence.
      if (p[k] == '.' && k >= 2 && (p[k - 2] == '.' || p[k - 2] == ' ')) continue;
      end = k + 1;
      break;
    }
  }
  std::string s = trim(p.substr(0, end));
  if (s.empty() || s.rfind("See ", 0) == 0 || s.rfind("see ", 0) == 0) return "";
  int words = 0;
  bool in_word = false;
  for (char c : s) {
    bool w = !std::isspace((unsigned char)c);
    if (w && !in_word) ++words;
    in_word = w;
  }
  if (words > max_words) return "";
  if (s.back() != '.' && s.back() != '?' && s.back() != '!') s += '.';
  return s;
}

FreedictEntry parse_freedict_entry(std::string_view raw) {
  FreedictEntry e;
  auto lines = split_lines(raw);
  size_t i = 0;
  while (i < lines.size() && blank(lines[i])) ++i;
  if (i + 1 >= lines.size()) return e;
  // Headword line: "english /pron/ (ACR /pron/) <pos>".
  std::string head(lines[i]);
  if (size_t lt = head.rfind('<'); lt != std::string::npos && head.back() == '>')
    e.pos = head.substr(lt + 1, head.size() - lt - 2);
  size_t slash = head.find(" /");
  e.english = trim(head.substr(0, slash == std::string::npos ? head.find(" <") : slash));
  // Translations: "Haus <neut>, Familie <fem> [soc.]", split on commas outside () and <>.
  std::string tl(lines[i + 1]);
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (char c : tl) {
    if (c == '(' || c == '<' || c == '[') ++depth;
    if (c == ')' || c == '>' || c == ']') depth = std::max(0, depth - 1);
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  for (auto& p : parts) {
    FreedictEntry::Translation t;
    for (const char* g : {"masc", "fem", "neut", "pl"})
      if (p.find(std::string("<") + g + ">") != std::string::npos && t.gender.empty()) t.gender = g;
    t.text = tidy(drop_groups(drop_groups(p, '<', '>', 40), '[', ']', 60));
    if (!t.text.empty()) e.translations.push_back(t);
  }
  // Examples: `      "english"  - deutsch`.
  for (size_t k = i + 2; k < lines.size(); ++k) {
    std::string l = trim(lines[k]);
    if (l.size() < 4 || l[0] != '"') continue;
    size_t q = l.find("\"  - ", 1);
    size_t skip = 5;
    if (q == std::string::npos) q = l.find("\" - ", 1), skip = 4;
    if (q == std::string::npos) continue;
    std::string en = tidy(l.substr(1, q - 1)), de = tidy(l.substr(q + skip));
    if (!en.empty() && !de.empty()) e.examples.emplace_back(en, de);
  }
  return e;
}

std::string german_with_article(const FreedictEntry::Translation& t) {
  if (t.gender == "masc") return "der " + t.text;
  if (t.gender == "fem" || t.gender == "pl") return "die " + t.text;
  if (t.gender == "neut") return "das " + t.text;
  return t.text;
}

namespace {
std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t b = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}
std::string wn_word(std::string_view w) {
  std::string s(w);
  if (size_t p = s.find('('); p != std::string::npos) s.resize(p);  // "able(a)" marker
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}
}  // namespace

bool parse_wordnet_data_line(std::string_view line, WordnetSynset& out) {
  if (line.empty() || line[0] == ' ') return false;
  size_t bar = line.find(" | ");
  if (bar == std::string_view::npos) return false;
  auto f = split_ws(line.substr(0, bar));
  if (f.size() < 4) return false;
  out = WordnetSynset{};
  out.offset = std::strtoull(std::string(f[0]).c_str(), nullptr, 10);
  out.pos = f[2].empty() ? 'n' : f[2][0];
  const size_t n = std::strtoul(std::string(f[3]).c_str(), nullptr, 16);
  for (size_t k = 0; k < n && 4 + 2 * k < f.size(); ++k) out.words.push_back(wn_word(f[4 + 2 * k]));
  std::string gloss = trim(line.substr(bar + 3));
  // Gloss: definition; "example"; "example"
  size_t q = gloss.find('"');
  out.definition = trim(gloss.substr(0, q));
  while (!out.definition.empty() && out.definition.back() == ';') out.definition.pop_back();
  out.definition = trim(out.definition);
  while (q != std::string::npos) {
    size_t e = gloss.find('"', q + 1);
    if (e == std::string::npos) break;
    out.examples.push_back(gloss.substr(q + 1, e - q - 1));
    q = gloss.find('"', e + 1);
  }
  return !out.words.empty();
}

bool parse_wordnet_index_line(std::string_view line, WordnetLemma& out) {
  if (line.empty() || line[0] == ' ') return false;
  auto f = split_ws(line);
  if (f.size() < 6) return false;
  out = WordnetLemma{};
  out.lemma = wn_word(f[0]);
  out.pos = f[1].empty() ? 'n' : f[1][0];
  const size_t synset_cnt = std::strtoul(std::string(f[2]).c_str(), nullptr, 10);
  const size_t p_cnt = std::strtoul(std::string(f[3]).c_str(), nullptr, 10);
  size_t k = 4 + p_cnt;  // skip the pointer symbols
  if (k + 2 + synset_cnt > f.size()) return false;
  out.tagged_count = std::atoi(std::string(f[k + 1]).c_str());
  for (size_t s = 0; s < synset_cnt; ++s)
    out.synsets.push_back(std::strtoull(std::string(f[k + 2 + s]).c_str(), nullptr, 10));
  return true;
}

std::vector<std::string> lower_words(std::string_view text) {
  std::vector<std::string> out;
  std::string w;
  for (char c : text) {
    if (std::isalpha((unsigned char)c) || (c == '\'' && !w.empty())) {
      w += char(std::tolower((unsigned char)c));
    } else if (!w.empty()) {
      while (!w.empty() && w.back() == '\'') w.pop_back();
      out.push_back(std::move(w));
      w.clear();
    }
  }
  while (!w.empty() && w.back() == '\'') w.pop_back();
  if (!w.empty()) out.push_back(std::move(w));
  return out;
}

void count_words(std::string_view text, std::map<std::string, int64_t>& counts) {
  for (auto& w : lower_words(text)) ++counts[w];
}

}  // namespace lmforge
