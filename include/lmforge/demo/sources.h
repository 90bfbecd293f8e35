// Turning the raw dictionaries of the demo corpus into clean records: computing-term entries from
// the Jargon File and FOLDOC (dictd), English->German pairs from FreeDict (dictd), and WordNet 3.0
// senses (data.* / index.* files). Each function takes text, so tests feed tiny fixtures.
// Not here: choosing, phrasing or splitting examples (demo/demo_data.h); file reading (dictd.h).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge {

// A dictionary entry as readable prose: the headword, and the body paragraphs with the header
// block (pronunciation, part of speech, FOLDOC aliases) dropped, {cross refs} unwrapped,
// <subject tags> and [bracketed tags, dates, citations] removed, (YYYY-MM-DD) stamps removed,
// lines of a paragraph joined, curly quotes made ASCII and runs of spaces collapsed.
struct TermEntry {
  std::string headword;
  std::vector<std::string> paragraphs;
  std::string document() const;  // "headword\nparagraph\nparagraph" (no blank lines inside)
};

// Cleans one dictd entry of the Jargon File or FOLDOC. An entry with no body text gives an empty
// `paragraphs`.
TermEntry clean_term_entry(std::string_view raw);

// The first sentence of a cleaned entry (sense numbers like "1. " dropped), or "" when it is
// longer than max_words words or the entry is only a cross reference ("See ...").
std::string first_sentence(const TermEntry& e, int max_words);

// One FreeDict entry: "house /hˈaʊs/ <n>" then "Haus <neut>, ..." then example lines
// `      "build a house"  - ein Haus bauen`.
struct FreedictEntry {
  std::string english;  // headword without pronunciation and parenthesized acronyms
  std::string pos;      // tag on the headword line ("v", "adj", ...) or ""
  struct Translation {
    std::string text;    // "Haus"
    std::string gender;  // "masc" | "fem" | "neut" | "pl" | ""
  };
  std::vector<Translation> translations;
  std::vector<std::pair<std::string, std::string>> examples;  // (english, german)
};
FreedictEntry parse_freedict_entry(std::string_view raw);

// The German noun with its article from the gender tag ("das Haus"), or the bare text.
std::string german_with_article(const FreedictEntry::Translation& t);

// One WordNet synset from a data.{noun,verb,adj,adv} line.
struct WordnetSynset {
  uint64_t offset = 0;
  char pos = 'n';                     // n, v, a, s (adjective satellite), r
  std::vector<std::string> words;     // underscores as spaces, "(a)"-style markers dropped
  std::string definition;             // the gloss before its quoted examples
  std::vector<std::string> examples;  // the quoted example sentences
};
// Parses a data.* line; false for the license header lines (they start with spaces).
bool parse_wordnet_data_line(std::string_view line, WordnetSynset& out);

// From an index.* line: the lemma (spaces for underscores), how often its senses were seen in
// the tagged corpus, and its synset offsets, most frequent sense first.
struct WordnetLemma {
  std::string lemma;
  char pos = 'n';
  int tagged_count = 0;
  std::vector<uint64_t> synsets;
};
bool parse_wordnet_index_line(std::string_view line, WordnetLemma& out);

// Lower-cased word counts of a text (letters and apostrophes), for ranking by familiarity.
void count_words(std::string_view text, std::map<std::string, int64_t>& counts);
// Splits into lower-cased words the same way.
std::vector<std::string> lower_words(std::string_view text);

}  // namespace lmforge
