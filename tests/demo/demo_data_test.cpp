// The demo's data builder on tiny hand-written fixtures (tests/demo/fixtures/corpus, made by
// make_fixtures.py): dictd base64 and index parsing, entry cleaning, FreeDict and WordNet
// parsing, the phrasing split (no held-out phrasing in training), the simulated ranker, and a
// whole build that is byte-identical for the same seed.
#include "lmforge/demo/demo_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/demo/dictd.h"
#include "lmforge/demo/sources.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {

const fs::path kCorpus = fs::path(LMFORGE_SOURCE_DIR) / "tests/demo/fixtures/corpus";

fs::path scratch(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("lmforge-demo-data-test-" + std::to_string(getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d.parent_path());
  return d;
}

std::vector<nlohmann::json> read_jsonl(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_file(p));
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(nlohmann::json::parse(l));
  return out;
}

// Whether `text` is `phrasing` with some item in place of "{x}".
bool matches(const std::string& phrasing, const std::string& text) {
  const size_t x = phrasing.find("{x}");
  const std::string pre = phrasing.substr(0, x), suf = phrasing.substr(x + 3);
  return text.size() > pre.size() + suf.size() && text.compare(0, pre.size(), pre) == 0 &&
         text.compare(text.size() - suf.size(), suf.size(), suf) == 0;
}

DemoDataOptions small_options(const fs::path& out, uint64_t seed) {
  DemoDataOptions o;
  o.corpus = kCorpus;
  o.output = out;
  o.seed = seed;
  o.domain_val_fraction = 0.3;
  o.task_pairs = 20;
  o.task_val = 2;
  o.instruct_train = 200;
  o.instruct_heldout = 60;
  o.rlhf_rankings = 30;
  o.rlhf_prompts = 10;
  return o;
}

}  // namespace

TEST(Dictd, Base64Numbers) {
  uint64_t v = 99;
  ASSERT_TRUE(dictd_base64_decode("A", v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(dictd_base64_decode("B", v));
  EXPECT_EQ(v, 1u);
  ASSERT_TRUE(dictd_base64_decode("BA", v));
  EXPECT_EQ(v, 64u);
  ASSERT_TRUE(dictd_base64_decode("/", v));
  EXPECT_EQ(v, 63u);
  ASSERT_TRUE(dictd_base64_decode("Ph", v));  // P=15, h=33
  EXPECT_EQ(v, 15u * 64 + 33);
  ASSERT_TRUE(dictd_base64_decode("BAK3S", v));  // FreeDict's offset of "house"
  EXPECT_EQ(v, ((((1ull * 64 + 0) * 64 + 10) * 64 + 55) * 64 + 18));
  EXPECT_FALSE(dictd_base64_decode("", v));
  EXPECT_FALSE(dictd_base64_decode("A=", v));
  EXPECT_FALSE(dictd_base64_decode("////////////", v));  // 72 bits
}

TEST(Dictd, IndexParsingAndErrors) {
  auto e = parse_dictd_index("foo\tB\tC\nbar baz\tBA\tD\n\n", "x.index");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[1].headword, "bar baz");
  EXPECT_EQ(e[1].offset, 64u);
  EXPECT_EQ(e[1].length, 3u);
  try {
    parse_dictd_index("foo\tB\tC\nbar\tB*\tC\n", "x.index");
    FAIL() << "expected InputError";
  } catch (const InputError& err) {
    EXPECT_EQ(err.line(), 2);
    EXPECT_EQ(err.field(), "offset");
    EXPECT_EQ(err.file(), "x.index");
  }
  EXPECT_THROW(parse_dictd_index("no tabs here\n", "x.index"), InputError);
}

TEST(Dictd, EntriesFromGzipAndPlainFiles) {
  DictdFile j = DictdFile::open(kCorpus / "dict", "jargon");  // .dict.dz
  auto entries = j.distinct_entries();
  ASSERT_EQ(entries.size(), 3u);  // "bitbucket" is an alias; 00-database-* is metadata
  EXPECT_EQ(std::string(j.entry(entries[0]).substr(0, 6)), "kluge\n");
  DictdFile f = DictdFile::open(kCorpus / "dict", "freedict-eng-deu");  // plain .dict
  EXPECT_EQ(f.distinct_entries().size(), 10u);
  DictdIndexEntry bad{"x", 1u << 20, 5};
  EXPECT_THROW(j.entry(bad), InputError);
  EXPECT_THROW(DictdFile::open(kCorpus / "dict", "gcide"), InputError);
}

TEST(Sources, CleansJargonAndFoldocEntries) {
  TermEntry k = clean_term_entry(
      "kluge\n /klooj/, n.\n\n    [from the German klug] A clever trick to solve\n    a case. See "
      "also {\n    hack}.\n\n    [1991-01-01]\n\n");
  EXPECT_EQ(k.headword, "kluge");
  ASSERT_EQ(k.paragraphs.size(), 1u);
  EXPECT_EQ(k.paragraphs[0], "A clever trick to solve a case. See also hack.");
  EXPECT_EQ(k.document(), "kluge\nA clever trick to solve a case. See also hack.");
  TermEntry c = clean_term_entry(
      "Central Processing Unit\nCPU\n\n   <hardware> (CPU) The part of a computer \xE2\x80\x9C"
      "brain\xE2\x80\x9D [\"A Book\", R. Author].\n\n   (1995-01-01)\n");
  EXPECT_EQ(c.headword, "Central Processing Unit");
  ASSERT_EQ(c.paragraphs.size(), 1u);
  EXPECT_EQ(c.paragraphs[0], "(CPU) The part of a computer \"brain\".");
  EXPECT_EQ(first_sentence(c, 20), "The part of a computer \"brain\".");
  TermEntry q = clean_term_entry("cryppie\n\n    /krip'ee/, n. A cryptographer. One who hacks.\n");
  ASSERT_EQ(q.paragraphs.size(), 1u);
  EXPECT_EQ(q.paragraphs[0], "A cryptographer. One who hacks.");
  TermEntry h =
      clean_term_entry("hack\n n.\n\n    [very common]\n\n    1. A quick job. It works.\n");
  EXPECT_EQ(first_sentence(h, 20), "A quick job.");
  EXPECT_EQ(first_sentence(h, 2), "");  // three words is too long
  EXPECT_EQ(first_sentence(clean_term_entry("x\n\n  See {y}.\n"), 20), "");
}

TEST(Sources, ParsesFreedictEntries) {
  FreedictEntry e = parse_freedict_entry(
      "house /h\xCB\x88"
      "a\xCA\x8As/\nHaus <neut>, Familie <fem> [soc.]\n      \"build a house\"  - ein Haus "
      "bauen\n see: {houses}\n\n");
  EXPECT_EQ(e.english, "house");
  EXPECT_EQ(e.pos, "");
  ASSERT_EQ(e.translations.size(), 2u);
  EXPECT_EQ(e.translations[0].text, "Haus");
  EXPECT_EQ(e.translations[1].text, "Familie");
  EXPECT_EQ(german_with_article(e.translations[0]), "das Haus");
  EXPECT_EQ(german_with_article(e.translations[1]), "die Familie");
  ASSERT_EQ(e.examples.size(), 1u);
  EXPECT_EQ(e.examples[0].first, "build a house");
  EXPECT_EQ(e.examples[0].second, "ein Haus bauen");
  FreedictEntry v = parse_freedict_entry("go /g/ <v>\ngehen\n");
  EXPECT_EQ(v.english, "go");
  EXPECT_EQ(v.pos, "v");
  FreedictEntry a = parse_freedict_entry("computed axial tomography /k/ (CAT /k/)\nCT <fem>\n");
  EXPECT_EQ(a.english, "computed axial tomography");
}

TEST(Sources, ParsesWordnetLines) {
  WordnetSynset s;
  EXPECT_FALSE(parse_wordnet_data_line("  1 This software and database  ", s));
  ASSERT_TRUE(parse_wordnet_data_line(
      "00000005 05 a 02 happy(a) 0 glad 0 001 @ 00000003 n 0000 | enjoying well-being; \"a "
      "happy smile\"; \"glad tidings\"  ",
      s));
  EXPECT_EQ(s.offset, 5u);
  EXPECT_EQ(s.pos, 'a');
  EXPECT_EQ(s.words, (std::vector<std::string>{"happy", "glad"}));
  EXPECT_EQ(s.definition, "enjoying well-being");
  EXPECT_EQ(s.examples, (std::vector<std::string>{"a happy smile", "glad tidings"}));
  ASSERT_TRUE(parse_wordnet_data_line("00000010 05 n 01 bit_bucket 0 000 | a sink  ", s));
  EXPECT_EQ(s.words[0], "bit bucket");
  WordnetLemma l;
  ASSERT_TRUE(parse_wordnet_index_line("dog n 2 2 @ ~ 2 7 00000001 00000042  ", l));
  EXPECT_EQ(l.lemma, "dog");
  EXPECT_EQ(l.tagged_count, 7);
  EXPECT_EQ(l.synsets, (std::vector<uint64_t>{1, 42}));
}

TEST(Instruct, PhrasingSplitIsDisjointCompleteAndSeeded) {
  for (const auto& k : instruct_kinds()) {
    ASSERT_GE(k.phrasings.size(), 8u) << k.name;
    PhrasingSplit a = split_phrasings(k, 7), b = split_phrasings(k, 7);
    EXPECT_EQ(a.train, b.train);
    EXPECT_GE(a.heldout.size(), 2u) << k.name;
    EXPECT_GE(a.train.size(), 5u) << k.name;
    std::set<std::string> tr(a.train.begin(), a.train.end()), all;
    for (const auto& h : a.heldout) EXPECT_EQ(tr.count(h), 0u) << h;
    all.insert(a.train.begin(), a.train.end());
    all.insert(a.heldout.begin(), a.heldout.end());
    EXPECT_EQ(all.size(), k.phrasings.size());
  }
  // Some kind splits differently under another seed.
  bool differs = false;
  for (const auto& k : instruct_kinds())
    differs |= split_phrasings(k, 7).heldout != split_phrasings(k, 8).heldout;
  EXPECT_TRUE(differs);
  EXPECT_EQ(apply_phrasing("Define {x}.", "kluge"), "Define kluge.");
}

TEST(Ranker, RightThenPartlyRightThenWrongThenShorter) {
  auto r = simulated_rank({"I don't know.", "der Hund, I think, probably", "die Katze", "Der Hund.",
                           "der Hunde", "die Katze, or so they say"},
                          "der hund");
  EXPECT_EQ(r,
            (std::vector<std::string>{"Der Hund.", "der Hund, I think, probably", "der Hunde",
                                      "die Katze", "I don't know.", "die Katze, or so they say"}));
  EXPECT_DOUBLE_EQ(answer_credit(" \"Der  HUND!\" ", "der Hund"), 1.0);
  const double ramble = answer_credit("der Hund, I think, probably", "der Hund");
  EXPECT_GE(ramble, 0.5);
  EXPECT_LT(ramble, 0.9);
  const double partly = answer_credit("der Hunde", "der Hund");
  EXPECT_GT(partly, 0.0);
  EXPECT_LT(partly, 0.5);
  EXPECT_EQ(answer_credit("unterstützen", "das Wort"), 0.0);  // chance overlap is no credit
  EXPECT_EQ(answer_credit("", "das Wort"), 0.0);
  EXPECT_TRUE(exact_answer("  Das Haus. ", "das Haus"));
  EXPECT_FALSE(exact_answer("Es ist das Haus.", "das Haus"));
  EXPECT_FALSE(exact_answer("anything", "  "));
  EXPECT_EQ(normalize_answer(" 'The  Cat.' "), "the cat");
  EXPECT_TRUE(contains_answer("  It is DAS HAUS. ", "das Haus"));
  EXPECT_FALSE(contains_answer("das Hau", "das Haus"));
  EXPECT_FALSE(contains_answer("the cat", "a"));  // whole words only
  EXPECT_TRUE(contains_answer("A cat.", "a"));
}

TEST(DemoData, BuildsEveryDatasetFromFixtures) {
  const fs::path out = scratch("a");
  DemoDataSummary s = build_demo_data(small_options(out, 5));
  for (const char* f :
       {"general/bible-kjv.txt", "general/fortunes.txt", "domain/train.txt", "domain/val.txt",
        "task/train.jsonl", "task/val.jsonl", "instruct/train.jsonl", "instruct/heldout.jsonl",
        "rlhf/prompts.jsonl", "rlhf/rankings.jsonl", "rlhf/README.txt", "manifest.json"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_EQ(s.domain_train_docs + s.domain_val_docs, 7);
  EXPECT_GE(s.domain_val_docs, 1);
  const std::string domain =
      read_file(out / "domain/train.txt") + read_file(out / "domain/val.txt");
  EXPECT_NE(domain.find("compiler\nA program that converts another program from some source "
                        "language to machine language."),
            std::string::npos)
      << domain;
  EXPECT_EQ(domain.find('{'), std::string::npos);
  EXPECT_EQ(domain.find('<'), std::string::npos);
  EXPECT_EQ(domain.find("1994-11-07"), std::string::npos);

  // Task: prompt/completion pairs; nouns get their article from the gender tag.
  auto task = read_jsonl(out / "task/train.jsonl");
  auto val = read_jsonl(out / "task/val.jsonl");
  EXPECT_EQ(int(val.size()), 2);
  std::map<std::string, std::string> pairs;
  for (auto* v : {&task, &val})
    for (auto& j : *v) pairs[j["prompt"]] = j["completion"];
  EXPECT_EQ(pairs["English: the house\nGerman:"], " das Haus");  // the sense with examples
  EXPECT_EQ(pairs["English: the dog\nGerman:"], " der Hund");
  EXPECT_EQ(pairs["English: to go\nGerman:"], " gehen");
  EXPECT_EQ(pairs["English: the dog is big\nGerman:"], " der Hund ist groß");
  EXPECT_EQ(pairs.count("English: computed axial tomography\nGerman:"), 0u);

  // Instructions: held-out phrasings never appear in training.
  auto train = read_jsonl(out / "instruct/train.jsonl");
  auto held = read_jsonl(out / "instruct/heldout.jsonl");
  EXPECT_EQ(int(train.size()), s.instruct_train);
  EXPECT_GE(train.size(), 190u);
  EXPECT_GE(held.size(), 50u);
  std::set<std::string> train_users;
  std::set<std::string> kinds_seen;
  for (auto& j : train) {
    ASSERT_EQ(j["messages"].size(), 2u);
    EXPECT_EQ(j["messages"][0]["role"], "user");
    EXPECT_EQ(j["messages"][1]["role"], "assistant");
    const std::string u = j["messages"][0]["content"];
    train_users.insert(u);
    bool from_train_phrasing = false;
    for (const auto& k : instruct_kinds())
      for (const auto& p : split_phrasings(k, 5).train)
        if (matches(p, u)) from_train_phrasing = true, kinds_seen.insert(k.name);
    EXPECT_TRUE(from_train_phrasing) << u;
  }
  EXPECT_EQ(kinds_seen.size(), instruct_kinds().size());
  std::map<std::string, int> held_kinds;
  for (auto& j : held) {
    const std::string u = j["messages"][0]["content"];
    ASSERT_TRUE(j.contains("kind")) << j.dump();
    ++held_kinds[j["kind"].get<std::string>()];
    EXPECT_EQ(train_users.count(u), 0u) << "held-out prompt also in train: " << u;
    bool from_heldout_phrasing = false;
    for (const auto& k : instruct_kinds())
      for (const auto& p : split_phrasings(k, 5).heldout)
        if (matches(p, u)) from_heldout_phrasing = true;
    EXPECT_TRUE(from_heldout_phrasing) << u;
  }

  // Every kind is held out, in equal shares.
  ASSERT_EQ(held_kinds.size(), instruct_kinds().size());
  for (const auto& [k, n] : held_kinds) EXPECT_EQ(n, held_kinds.begin()->second) << k;

  // Prompts for `demo rank`: every kind, each with its reference answer.
  auto rank_prompts = read_jsonl(out / "rlhf/rank_prompts.jsonl");
  EXPECT_EQ(rank_prompts.size(), 30u);
  std::set<std::string> rank_kinds;
  for (auto& j : rank_prompts) {
    EXPECT_FALSE(j["reference"].get<std::string>().empty());
    rank_kinds.insert(j["kind"].get<std::string>());
  }
  EXPECT_EQ(rank_kinds.size(), instruct_kinds().size());

  // Rankings: the simulated ranker's order; the reference answer is first.
  auto ranks = read_jsonl(out / "rlhf/rankings.jsonl");
  EXPECT_EQ(int(ranks.size()), s.rlhf_rankings);
  ASSERT_GE(ranks.size(), 20u);
  for (auto& r : ranks) {
    std::vector<std::string> resp = r["responses"];
    ASSERT_EQ(resp.size(), 5u);
    EXPECT_EQ(simulated_rank(resp, resp[0]), resp);
    EXPECT_TRUE(contains_answer(resp[1], resp[0]));   // the rambling variant
    EXPECT_FALSE(contains_answer(resp[2], resp[0]));  // wrong answers rank below
  }
  EXPECT_EQ(read_jsonl(out / "rlhf/prompts.jsonl").size(), 10u);
  EXPECT_NE(read_file(out / "rlhf/README.txt").find("SIMULATED RANKER"), std::string::npos);
  auto manifest = nlohmann::json::parse(read_file(out / "manifest.json"));
  EXPECT_EQ(manifest["instruct"]["heldout"], s.instruct_heldout);
}

TEST(DemoData, SameSeedSameBytesOtherSeedOtherSplit) {
  const fs::path a = scratch("s1"), b = scratch("s2"), c = scratch("s3");
  build_demo_data(small_options(a, 11));
  build_demo_data(small_options(b, 11));
  build_demo_data(small_options(c, 12));
  for (const char* f : {"domain/train.txt", "task/train.jsonl", "instruct/train.jsonl",
                        "instruct/heldout.jsonl", "rlhf/rankings.jsonl", "manifest.json"})
    EXPECT_EQ(read_file(a / f), read_file(b / f)) << f;
  EXPECT_NE(read_file(a / "instruct/train.jsonl"), read_file(c / "instruct/train.jsonl"));
  fs::remove_all(a.parent_path());
}

TEST(DemoData, MissingCorpusNamesTheFileAndTheFix) {
  DemoDataOptions o = small_options(scratch("m"), 1);
  o.corpus = scratch("no-corpus");
  try {
    build_demo_data(o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fetch-corpus.sh"), std::string::npos) << e.what();
    EXPECT_NE(e.file().find("bible-kjv.txt"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(o.output));
}
