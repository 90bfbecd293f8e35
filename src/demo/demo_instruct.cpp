// Instruction data with held-out phrasings, and rankings by the simulated ranker (see
// demo/demo_data.h). Each kind has ten phrasings; a seed-fixed 30% of them never appear in
// instruct/train.jsonl and are the only ones in instruct/heldout.jsonl, so the held-out accuracy
// measures following instructions worded in a new way.
#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "demo/demo_internal.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace lmforge {

const char* const kSimulatedRankerRule =
    "SIMULATED RANKER (no human ranked these answers): an answer that contains the reference "
    "answer (as whole words, ignoring case) beats one that does not; among answers equal on that, "
    "the shorter "
    "one wins. Candidates per prompt: the reference answer, the reference followed by rambling, "
    "the reference answer of another prompt (wrong), that wrong answer with rambling, and "
    "\"I don't know.\"";

const std::vector<InstructKind>& instruct_kinds() {
  static const std::vector<InstructKind> kinds = {
      {"define_term",
       {"What is {x}?", "Define {x}.", "What does the computing term \"{x}\" mean?",
        "Explain {x} in one sentence.", "Give a short definition of {x}.",
        "In computing, what is meant by {x}?", "Tell me what {x} is.", "{x}: what is it?",
        "I keep hearing about {x}. What is it?", "Briefly, what does {x} refer to?"}},
      {"define_word",
       {"What does the word \"{x}\" mean?", "Define the word {x}.", "Give the meaning of \"{x}\".",
        "What is the meaning of {x}?", "Explain the word \"{x}\" briefly.",
        "How would you define {x}?", "Meaning of the word {x}?",
        "Look up \"{x}\" and give its definition.", "What is meant by the word {x}?",
        "Please define: {x}"}},
      {"translate",
       {"Translate \"{x}\" into German.", "How do you say \"{x}\" in German?",
        "What is \"{x}\" in German?", "Give the German for: {x}", "English to German: {x}",
        "Please translate to German: {x}", "What's the German translation of \"{x}\"?",
        "Say \"{x}\" in German.", "Render \"{x}\" in German.",
        "In German, how would one say \"{x}\"?"}},
      {"synonym",
       {"Give a synonym for \"{x}\".", "What is another word for {x}?",
        "Name a word that means the same as \"{x}\".", "Synonym of {x}?",
        "Suggest a synonym of the word {x}.", "Which word means roughly the same as \"{x}\"?",
        "Tell me a different word for {x}.", "What word could replace \"{x}\"?",
        "Find a synonym: {x}", "Another way to say \"{x}\"?"}},
      {"first_word",
       {"What is the first word of \"{x}\"?", "Which word comes first in this sentence: {x}",
        "Tell me the first word of: {x}", "Give only the first word of the following text. {x}",
        "First word of \"{x}\"?", "Read this and answer with its first word: {x}",
        "What word does \"{x}\" start with?", "Name the opening word of: {x}",
        "The sentence \"{x}\" begins with which word?", "Return the first word in \"{x}\"."}},
      {"last_word",
       {"What is the last word of \"{x}\"?", "Which word comes last in this sentence: {x}",
        "Tell me the final word of: {x}", "Give only the last word of the following text. {x}",
        "Last word of \"{x}\"?", "Read this and answer with its last word: {x}",
        "What word does \"{x}\" end with?", "Name the closing word of: {x}",
        "The sentence \"{x}\" ends with which word?", "Return the last word in \"{x}\"."}},
      {"repeat",
       {"Repeat after me: {x}", "Say this back to me exactly: {x}",
        "Please echo the following text: {x}", "Copy this sentence: {x}", "Write \"{x}\" again.",
        "Echo: {x}", "Repeat the sentence \"{x}\".", "Type out exactly this: {x}",
        "Can you repeat \"{x}\"?", "Reproduce the text below word for word. {x}"}},
  };
  return kinds;
}

PhrasingSplit split_phrasings(const InstructKind& kind, uint64_t seed) {
  std::vector<std::string> p = kind.phrasings;
  Rng rng(seed_for(seed, "phrasings/" + kind.name));
  demo_detail::shuffle_with(p, rng);
  const size_t held = std::max<size_t>(1, (p.size() * 3) / 10);
  PhrasingSplit s;
  s.train.assign(p.begin(), p.end() - held);
  s.heldout.assign(p.end() - held, p.end());
  return s;
}

std::string apply_phrasing(const std::string& phrasing, const std::string& item) {
  std::string out = phrasing;
  size_t p = out.find("{x}");
  if (p != std::string::npos) out.replace(p, 3, item);
  return out;
}

namespace {
std::string lower_trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace((unsigned char)s[b])) ++b;
  while (e > b && std::isspace((unsigned char)s[e - 1])) --e;
  std::string out = s.substr(b, e - b);
  for (char& c : out) c = char(std::tolower((unsigned char)c));
  return out;
}
}  // namespace

bool contains_answer(const std::string& answer, const std::string& reference) {
  const std::string r = lower_trim(reference);
  if (r.empty()) return false;
  // Whole words only: "a" is not contained in "cat", but "das Haus" is in "Es ist das Haus.".
  const std::string a = lower_trim(answer);
  auto word_char = [](char c) {
    return std::isalnum((unsigned char)c) || (unsigned char)c >= 0x80;
  };
  for (size_t p = a.find(r); p != std::string::npos; p = a.find(r, p + 1)) {
    const bool left = p == 0 || !word_char(a[p - 1]) || !word_char(r.front());
    const size_t e = p + r.size();
    const bool right = e == a.size() || !word_char(a[e]) || !word_char(r.back());
    if (left && right) return true;
  }
  return false;
}

std::vector<std::string> simulated_rank(std::vector<std::string> answers,
                                        const std::string& reference) {
  std::stable_sort(answers.begin(), answers.end(), [&](const std::string& a, const std::string& b) {
    const bool ca = contains_answer(a, reference), cb = contains_answer(b, reference);
    if (ca != cb) return ca;
    if (a.size() != b.size()) return a.size() < b.size();
    return a < b;
  });
  return answers;
}

namespace demo_detail {
namespace {

using Json = nlohmann::ordered_json;

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Json chat(const std::string& user, const std::string& assistant) {
  return Json{{"messages", Json::array({Json{{"role", "user"}, {"content", user}},
                                        Json{{"role", "assistant"}, {"content", assistant}}})}};
}

const char* const kRambles[] = {
    "I think that is right, but I am not completely sure about it.",
    "Let me say it again in other words, just to be very clear about it.",
    "That is what most people would tell you, more or less, if you asked them.",
    "There is a lot more that could be said about this, of course.",
    "I hope this helps, and feel free to ask me again about it later.",
    "Well, it depends on how you look at it, but basically that is it.",
};

// The items of one kind, as the kind's table entry sees them.
const std::vector<QA>& pool_for(const InstructPools& p, const std::string& kind,
                                std::vector<QA>& scratch) {
  if (kind == "define_term") return p.define_term;
  if (kind == "define_word") return p.define_word;
  if (kind == "translate") return p.translate;
  if (kind == "synonym") return p.synonym;
  // Sentence kinds derive their answer from the sentence.
  scratch.clear();
  for (const auto& s : p.sentences) {
    std::vector<std::string> words;
    std::string w;
    for (char c : s.item) {
      if (c == ' ') {
        if (!w.empty()) words.push_back(w), w.clear();
      } else {
        w += c;
      }
    }
    if (!w.empty()) words.push_back(w);
    if (words.empty()) continue;
    auto strip = [](std::string x) {
      while (!x.empty() && std::ispunct((unsigned char)x.back())) x.pop_back();
      while (!x.empty() && std::ispunct((unsigned char)x.front())) x.erase(x.begin());
      return x;
    };
    std::string a = kind == "first_word"  ? strip(words.front())
                    : kind == "last_word" ? strip(words.back())
                                          : s.item;
    if (!a.empty()) scratch.push_back({s.item, a});
  }
  return scratch;
}

// Share of the instruction examples per kind (sums to 1).
double kind_weight(const std::string& kind) {
  static const std::map<std::string, double> w = {
      {"define_term", 0.22}, {"define_word", 0.15}, {"translate", 0.22}, {"synonym", 0.13},
      {"first_word", 0.10},  {"last_word", 0.09},   {"repeat", 0.09}};
  auto it = w.find(kind);
  return it == w.end() ? 0.0 : it->second;
}

}  // namespace

void write_instruct_and_rlhf(const InstructPools& pools, const DemoDataOptions& opt,
                             const std::filesystem::path& dir, DemoDataSummary& summary) {
  std::string train, heldout, prompts, rankings;
  std::vector<std::pair<std::string, Json>> train_rows;  // sorted by a seeded key below
  std::vector<QA> scratch;
  Rng rng(seed_for(opt.seed, "instruct"));
  for (const auto& kind : instruct_kinds()) {
    const auto& items = pool_for(pools, kind.name, scratch);
    if (items.size() < 4)
      throw InputError(dir.string(), 0, kind.name,
                       "too few items for instruction kind '" + kind.name + "' (" +
                           std::to_string(items.size()) + ")",
                       "is the corpus complete? run scripts/fetch-corpus.sh again");
    const PhrasingSplit ph = split_phrasings(kind, opt.seed);
    const double w = kind_weight(kind.name);
    const int n_train = std::max(1, int(opt.instruct_train * w + 0.5));
    const int n_held = std::max(1, int(opt.instruct_heldout * w + 0.5));
    const bool sentence_kind =
        kind.name == "first_word" || kind.name == "last_word" || kind.name == "repeat";
    // Sentence kinds: held-out sentences are never trained on. Knowledge kinds: held-out items
    // are items also trained on (with other phrasings), so the held-out score measures the new
    // wording, not facts the model could not have learned.
    const size_t held_items = sentence_kind ? std::min<size_t>(n_held, items.size() / 2) : 0;
    const size_t first_train = held_items;
    const size_t n_pool = items.size() - first_train;
    for (int i = 0; i < n_train; ++i) {
      const QA& qa = items[first_train + size_t(i) % n_pool];
      const std::string& p = ph.train[rng.below(ph.train.size())];
      Json row = chat(apply_phrasing(p, qa.item), qa.answer);
      train_rows.emplace_back(std::to_string(rng.next_u64()), row);
    }
    for (int i = 0; i < n_held; ++i) {
      const QA& qa = sentence_kind ? items[size_t(i) % std::max<size_t>(1, held_items)]
                                   : items[size_t(i) % std::min<size_t>(n_pool, n_train)];
      const std::string& p = ph.heldout[size_t(i) % ph.heldout.size()];
      heldout += dump(chat(apply_phrasing(p, qa.item), qa.answer)) + "\n";
      ++summary.instruct_heldout;
    }
  }
  std::sort(train_rows.begin(), train_rows.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& r : train_rows) train += dump(r.second) + "\n";
  summary.instruct_train = int(train_rows.size());

  // Rankings and PPO prompts: training phrasings, knowledge kinds (their wrong answers are
  // clearly wrong), spread over the kinds in turn.
  Rng rr(seed_for(opt.seed, "rlhf"));
  std::vector<std::string> rank_kinds = {"define_term", "define_word", "translate", "synonym",
                                         "first_word"};
  const int total = opt.rlhf_rankings + opt.rlhf_prompts;
  for (int i = 0; i < total; ++i) {
    const std::string& kname = rank_kinds[size_t(i) % rank_kinds.size()];
    const InstructKind* kind = nullptr;
    for (const auto& k : instruct_kinds())
      if (k.name == kname) kind = &k;
    const auto& items = pool_for(pools, kname, scratch);
    const PhrasingSplit ph = split_phrasings(*kind, opt.seed);
    const QA& qa = items[rr.below(items.size())];
    const std::string prompt = apply_phrasing(ph.train[rr.below(ph.train.size())], qa.item);
    if (i >= opt.rlhf_rankings) {
      prompts += dump(Json{{"prompt", prompt}, {"reference", qa.answer}}) + "\n";
      ++summary.rlhf_prompts;
      continue;
    }
    // A reference that "I don't know." contains (first word "I") would not rank cleanly.
    if (contains_answer("I don't know.", qa.answer)) continue;
    std::string wrong;
    for (int tries = 0; tries < 16 && (wrong.empty() || contains_answer(wrong, qa.answer)); ++tries)
      wrong = items[rr.below(items.size())].answer;
    if (contains_answer(wrong, qa.answer)) continue;
    const size_t n_r = sizeof(kRambles) / sizeof(kRambles[0]);
    std::vector<std::string> cands = {qa.answer, qa.answer + " " + kRambles[rr.below(n_r)], wrong,
                                      wrong + " " + kRambles[rr.below(n_r)], "I don't know."};
    Json responses = Json::array();
    for (auto& a : simulated_rank(cands, qa.answer)) responses.push_back(a);
    rankings += dump(Json{{"prompt", prompt}, {"responses", responses}}) + "\n";
    ++summary.rlhf_rankings;
  }
  std::filesystem::create_directories(dir / "instruct");
  std::filesystem::create_directories(dir / "rlhf");
  write_file_atomic(dir / "instruct" / "train.jsonl", train);
  write_file_atomic(dir / "instruct" / "heldout.jsonl", heldout);
  write_file_atomic(dir / "rlhf" / "prompts.jsonl", prompts);
  write_file_atomic(dir / "rlhf" / "rankings.jsonl", rankings);
  std::string readme =
      "Rankings in this directory were produced by a SIMULATED RANKER, not by people.\n\n"
      "Rule: " +
      std::string(kSimulatedRankerRule) +
      "\n\nrankings.jsonl: {\"prompt\", \"responses\": [best, ..., worst]} ordered by the rule.\n"
      "prompts.jsonl: {\"prompt\", \"reference\"} prompts for PPO rollouts (the reference is for\n"
      "measuring; the policy never sees it).\n"
      "Replace the simulated rankings with human ones: `lmforge label` then `lmforge label "
      "export`.\n";
  write_file_atomic(dir / "rlhf" / "README.txt", readme);
}

}  // namespace demo_detail
}  // namespace lmforge
