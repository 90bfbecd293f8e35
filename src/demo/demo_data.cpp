// Builds the demo's datasets from the fetched corpus (see demo/demo_data.h for the layout).
// Sources are read whole (the largest, FreeDict eng-deu, is ~60 MB of text); everything that
// is chosen or split goes through seeded Rng streams and sorted containers, so a corpus and a
// seed always give byte-identical files.
#include "lmforge/demo/demo_data.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "demo/demo_internal.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/progress.h"
#include "lmforge/demo/dictd.h"
#include "lmforge/demo/sources.h"

namespace lmforge {
namespace fs = std::filesystem;
using demo_detail::QA;
using demo_detail::shuffle_with;

namespace {

using Json = nlohmann::ordered_json;
using Counts = std::map<std::string, int64_t>;

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void require(const fs::path& p) {
  if (!fs::exists(p))
    throw InputError(p.string(), 0, "", "missing from the demo corpus",
                     "run scripts/fetch-corpus.sh CORPUS_DIR, then pass --corpus CORPUS_DIR");
}

int word_count(const std::string& s) {
  return int(lower_words(s).size());
}

// Familiarity of a phrase: the count of its rarest word in the general corpus.
int64_t familiarity(const std::string& text, const Counts& counts) {
  auto ws = lower_words(text);
  if (ws.empty()) return 0;
  int64_t m = INT64_MAX;
  for (const auto& w : ws) {
    auto it = counts.find(w);
    m = std::min<int64_t>(m, it == counts.end() ? 0 : it->second);
  }
  return m;
}

bool plain_lower(const std::string& w) {
  return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

bool plain_ascii_phrase(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalpha((unsigned char)c) || c == ' ' || c == '-' || c == '\'')) return false;
  return true;
}

bool clean_german(const std::string& s, int max_words) {
  if (s.empty() || word_count(s) > max_words) return false;
  for (const char* bad : {"(", ")", "/", ";", "jdn", "jdm", "etw", "sth", "sb.", "...", "~"})
    if (s.find(bad) != std::string::npos) return false;
  return true;
}

// ---- domain: Jargon File + FOLDOC ----
struct Domain {
  std::vector<TermEntry> entries;  // cleaned, with a body
};

Domain read_domain(const fs::path& dict_dir) {
  Domain d;
  for (const char* name : {"jargon", "foldoc"}) {
    DictdFile f = DictdFile::open(dict_dir, name);
    for (const auto& e : f.distinct_entries()) {
      TermEntry t = clean_term_entry(f.entry(e));
      if (!t.headword.empty() && !t.paragraphs.empty()) d.entries.push_back(std::move(t));
    }
  }
  return d;
}

void write_domain(const Domain& d, const DemoDataOptions& opt, const fs::path& out,
                  DemoDataSummary& s) {
  std::vector<const TermEntry*> order;
  for (const auto& e : d.entries) order.push_back(&e);
  Rng rng(seed_for(opt.seed, "domain-order"));
  shuffle_with(order, rng);
  std::string train, val;
  for (const TermEntry* e : order) {
    if (int64_t(train.size() + val.size()) >= opt.domain_max_bytes) break;
    std::string key = e->headword;
    for (char& c : key) c = char(std::tolower((unsigned char)c));
    // The split hashes the lower-cased headword, so an entry in both dictionaries never
    // straddles train and val.
    Rng h(seed_for(opt.seed, "domain-val/" + key));
    const bool is_val = h.uniform() < opt.domain_val_fraction;
    (is_val ? val : train) += e->document() + "\n\n";
    ++(is_val ? s.domain_val_docs : s.domain_train_docs);
  }
  fs::create_directories(out / "domain");
  write_file_atomic(out / "domain" / "train.txt", train);
  write_file_atomic(out / "domain" / "val.txt", val);
  s.domain_bytes = int64_t(train.size() + val.size());
}

// ---- task: FreeDict English -> German ----
struct Pair {
  std::string en, de;
  int64_t score;
};

std::vector<Pair> read_pairs(const fs::path& dict_dir, const Counts& counts, int want) {
  DictdFile f = DictdFile::open(dict_dir, "freedict-eng-deu");
  // Per English headword, the entry with the most examples is taken as its main sense.
  std::map<std::string, FreedictEntry> best;
  std::map<std::string, std::string> example_pairs;  // en -> de (first seen)
  for (const auto& ie : f.distinct_entries()) {
    FreedictEntry e = parse_freedict_entry(f.entry(ie));
    if (!plain_ascii_phrase(e.english) || e.translations.empty()) continue;
    for (const auto& [en, de] : e.examples)
      if (word_count(en) >= 2 && word_count(en) <= 6 && clean_german(de, 8) &&
          familiarity(en, counts) >= 3)
        example_pairs.emplace(en, de);
    auto it = best.find(e.english);
    if (it == best.end() || e.examples.size() > it->second.examples.size())
      best[e.english] = std::move(e);
  }
  std::vector<Pair> words, phrases;
  for (const auto& [en, e] : best) {
    const auto& t = e.translations.front();
    if (!clean_german(t.text, 3)) continue;
    const bool lower =
        std::all_of(en.begin(), en.end(), [](char c) { return !std::isupper((unsigned char)c); });
    if (!lower || word_count(en) > 2) continue;
    Pair p;
    if (e.pos.empty() && (t.gender == "masc" || t.gender == "fem" || t.gender == "neut"))
      p = {"the " + en, german_with_article(t), 0};
    else if (e.pos == "v" && t.text.size() > 2 && t.text.back() == 'n')
      p = {"to " + en, t.text, 0};
    else if (t.gender.empty() && word_count(t.text) == 1)
      p = {en, t.text, 0};
    else
      continue;
    p.score = familiarity(en, counts);
    if (p.score >= 3) words.push_back(p);
  }
  for (const auto& [en, de] : example_pairs) phrases.push_back({en, de, familiarity(en, counts)});
  auto by_score = [](const Pair& a, const Pair& b) {
    return a.score != b.score ? a.score > b.score : a.en < b.en;
  };
  std::sort(words.begin(), words.end(), by_score);
  std::sort(phrases.begin(), phrases.end(), by_score);
  // Two thirds single words and short verb/noun phrases, one third example phrases.
  const size_t n_phr = std::min(phrases.size(), size_t(want / 3));
  const size_t n_words = std::min(words.size(), size_t(want) - n_phr);
  std::vector<Pair> out(words.begin(), words.begin() + n_words);
  out.insert(out.end(), phrases.begin(), phrases.begin() + n_phr);
  std::set<std::string> seen;
  std::vector<Pair> uniq;
  for (auto& p : out) {
    std::string k = p.en;
    for (char& c : k) c = char(std::tolower((unsigned char)c));
    if (seen.insert(k).second) uniq.push_back(std::move(p));
  }
  return uniq;
}

std::string task_prompt(const std::string& en) {
  return "English: " + en + "\nGerman:";
}

// ---- WordNet: common words' first-sense definitions and synonyms ----
void read_wordnet(const fs::path& wn_dir, const Counts& counts, demo_detail::InstructPools& pools) {
  std::map<uint64_t, WordnetSynset> synsets[4];
  std::map<std::string, std::pair<WordnetLemma, int>> best;  // lemma -> (most-tagged pos, file)
  const char* names[4] = {"noun", "verb", "adj", "adv"};
  for (int k = 0; k < 4; ++k) {
    require(wn_dir / (std::string("data.") + names[k]));
    require(wn_dir / (std::string("index.") + names[k]));
    std::ifstream data(wn_dir / (std::string("data.") + names[k]));
    std::string line;
    WordnetSynset s;
    while (std::getline(data, line))
      if (parse_wordnet_data_line(line, s)) synsets[k][s.offset] = s;
    std::ifstream index(wn_dir / (std::string("index.") + names[k]));
    WordnetLemma l;
    while (std::getline(index, line)) {
      if (!parse_wordnet_index_line(line, l) || l.synsets.empty()) continue;
      if (l.lemma.find(' ') != std::string::npos || l.lemma.find('-') != std::string::npos)
        continue;
      auto it = best.find(l.lemma);
      if (it == best.end() || l.tagged_count > it->second.first.tagged_count)
        best[l.lemma] = {l, k};
    }
  }
  struct Cand {
    int64_t score;
    std::string word;
    const WordnetSynset* s;
  };
  std::vector<Cand> cands;
  for (const auto& [w, lk] : best) {
    auto it = synsets[lk.second].find(lk.first.synsets.front());
    if (it == synsets[lk.second].end() || lk.first.tagged_count <= 0) continue;
    const int64_t f = familiarity(w, counts);
    if (f >= 5 && w.size() >= 4 && plain_lower(w)) cands.push_back({f, w, &it->second});
  }
  std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) {
    return a.score != b.score ? a.score > b.score : a.word < b.word;
  });
  for (const auto& c : cands) {
    if (pools.synonym.size() >= 1200) break;
    for (const auto& syn : c.s->words)
      if (plain_lower(syn) && syn.size() >= 4 && syn != c.word && familiarity(syn, counts) >= 3) {
        pools.synonym.push_back({c.word, syn});
        break;
      }
  }
}

// Frequent plain lower-case words of the general text (4 to 10 letters), most frequent first.
std::vector<std::string> frequent_words(const Counts& counts, size_t want) {
  std::vector<std::pair<int64_t, std::string>> v;
  for (const auto& [w, n] : counts) {
    if (w.size() < 4 || w.size() > 10) continue;
    if (!plain_lower(w)) continue;
    v.emplace_back(n, w);
  }
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size() && out.size() < want; ++i) out.push_back(v[i].second);
  return out;
}

// Short one-line sentences of the fortunes file, for the text-manipulation kinds.
std::vector<QA> read_sentences(const std::string& fortunes, uint64_t seed, size_t want) {
  std::vector<QA> out;
  std::set<std::string> seen;
  size_t pos = 0;
  while (pos < fortunes.size()) {
    size_t e = fortunes.find('\n', pos);
    if (e == std::string::npos) e = fortunes.size();
    std::string l = fortunes.substr(pos, e - pos);
    pos = e + 1;
    const int n = word_count(l);
    bool ok = n >= 3 && n <= 10 && std::isupper((unsigned char)l[0]) && l.back() == '.';
    for (char c : l)
      if ((unsigned char)c >= 0x80 || c == '\t' || c == '"' || c == '-' || c == ':') ok = false;
    if (ok && seen.insert(l).second) out.push_back({l, ""});
  }
  // The shortest `want` of them (repeating ten words is harder than repeating four), in a seeded
  // order that does not depend on their length.
  Rng rng(seed_for(seed, "sentences"));
  shuffle_with(out, rng);
  std::stable_sort(out.begin(), out.end(), [](const QA& a, const QA& b) {
    return word_count(a.item) < word_count(b.item);
  });
  if (out.size() > want) out.resize(want);
  shuffle_with(out, rng);
  return out;
}

}  // namespace

DemoDataSummary build_demo_data(const DemoDataOptions& opt) {
  const fs::path gen = opt.corpus / "general", dict = opt.corpus / "dict",
                 wn = opt.corpus / "wordnet";
  for (const auto& p : {gen / "bible-kjv.txt", gen / "fortunes.txt", dict / "jargon.index",
                        dict / "foldoc.index", dict / "freedict-eng-deu.index", wn / "data.noun"})
    require(p);
  DemoDataSummary s;
  Progress progress("demo data", 6, "steps", 5.0);
  write_dir_atomic(opt.output, [&](const fs::path& dir) {
    // general: copied as they are.
    const std::string bible = read_file(gen / "bible-kjv.txt"),
                      fortunes = read_file(gen / "fortunes.txt");
    fs::create_directories(dir / "general");
    write_file_atomic(dir / "general" / "bible-kjv.txt", bible);
    write_file_atomic(dir / "general" / "fortunes.txt", fortunes);
    s.general_bytes = int64_t(bible.size() + fortunes.size());
    Counts counts;
    count_words(bible, counts);
    count_words(fortunes, counts);
    progress.update(1, "general");

    Domain domain = read_domain(dict);
    write_domain(domain, opt, dir, s);
    progress.update(2, "domain");

    std::vector<Pair> pairs = read_pairs(dict, counts, opt.task_pairs);
    Rng rng(seed_for(opt.seed, "task-split"));
    shuffle_with(pairs, rng);
    std::string train, val;
    for (size_t i = 0; i < pairs.size(); ++i) {
      const bool is_val = int(i) < opt.task_val;
      (is_val ? val : train) +=
          dump(Json{{"prompt", task_prompt(pairs[i].en)}, {"completion", " " + pairs[i].de}}) +
          "\n";
      ++(is_val ? s.task_val : s.task_train);
    }
    fs::create_directories(dir / "task");
    write_file_atomic(dir / "task" / "train.jsonl", train);
    write_file_atomic(dir / "task" / "val.jsonl", val);
    progress.update(3, "task");

    demo_detail::InstructPools pools;
    // Translations: the fine-tuning stage's training words and short phrases (not its example
    // sentences), so instruction tuning asks for what an earlier stage taught.
    // Most familiar first ("the house", "to go", "good"): the closed set is their head.
    std::vector<Pair> words_taught;
    for (size_t i = size_t(opt.task_val); i < pairs.size(); ++i)
      if ((pairs[i].en.rfind("the ", 0) == 0 || pairs[i].en.rfind("to ", 0) == 0) &&
          word_count(pairs[i].en) == 2 && word_count(pairs[i].de) <= 2 &&
          pairs[i].de.find(',') == std::string::npos)
        words_taught.push_back(pairs[i]);
    std::stable_sort(words_taught.begin(), words_taught.end(),
                     [](const Pair& a, const Pair& b) { return a.score > b.score; });
    for (const auto& p : words_taught) pools.translate.push_back({p.en, p.de});
    progress.update(4, "translations");
    read_wordnet(wn, counts, pools);
    Rng wr(seed_for(opt.seed, "wordnet"));  // synonyms stay most familiar first
    pools.words = frequent_words(counts, 1000);
    shuffle_with(pools.words, wr);
    pools.sentences = read_sentences(fortunes, opt.seed, 1000);
    progress.update(5, "wordnet");

    demo_detail::write_instruct_and_rlhf(pools, opt, dir, s);
    Json manifest = {{"format", "lmforge-demo-data"},
                     {"version", 1},
                     {"seed", opt.seed},
                     {"general_bytes", s.general_bytes},
                     {"domain",
                      {{"train_docs", s.domain_train_docs},
                       {"val_docs", s.domain_val_docs},
                       {"bytes", s.domain_bytes}}},
                     {"task", {{"train", s.task_train}, {"val", s.task_val}}},
                     {"instruct",
                      {{"train", s.instruct_train},
                       {"heldout", s.instruct_heldout},
                       {"closed_set", opt.closed_set}}},
                     {"rlhf", {{"rankings", s.rlhf_rankings}, {"prompts", s.rlhf_prompts}}},
                     {"simulated_ranker", kSimulatedRankerRule}};
    if (fs::exists(opt.corpus / "LICENSES.txt"))
      fs::copy_file(opt.corpus / "LICENSES.txt", dir / "LICENSES.txt");
    write_file_atomic(dir / "manifest.json", manifest.dump(2) + "\n");
    progress.finish("done");
  });
  return s;
}

}  // namespace lmforge
