// Instruction data with held-out phrasings, prompts for ranking and PPO, and fixed-candidate
// rankings (see demo/demo_data.h). Each kind has ten or more phrasings; a seed-fixed 30% of them
// never appear in instruct/train.jsonl and are the only ones in instruct/heldout.jsonl, so the
// held-out accuracy measures following instructions worded in a new way. The kinds are ones a
// small model can learn in minutes and a person can judge at a glance: words the fine-tuning
// stage taught to translate, synonyms and first letters of a closed set of words from the general
// text, and first word / last word / repeat of short sentences it never saw.
// Not here: the ranker's rule and the scoring (ranker.cpp), the sources (demo_data.cpp).
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "demo/demo_internal.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace lmforge {

const std::vector<InstructKind>& instruct_kinds() {
  static const std::vector<InstructKind> kinds = {
      {"translate",
       {"Translate \"{x}\" into German.", "How do you say \"{x}\" in German?",
        "What is \"{x}\" in German?", "Give the German for: {x}", "English to German: {x}",
        "Please translate to German: {x}", "What's the German translation of \"{x}\"?",
        "Say \"{x}\" in German.", "Render \"{x}\" in German.",
        "In German, how would one say \"{x}\"?"},
       true},
      {"synonym",
       {"Give a synonym for \"{x}\".", "What is another word for {x}?",
        "Name a word that means the same as \"{x}\".", "Synonym of {x}?",
        "Suggest a synonym of the word {x}.", "Which word means roughly the same as \"{x}\"?",
        "Tell me a different word for {x}.", "What word could replace \"{x}\"?",
        "Find a synonym: {x}", "Another way to say \"{x}\"?"},
       true},
      {"first_letter",
       {"What is the first letter of \"{x}\"?", "Which letter does {x} start with?",
        "First letter of the word {x}?", "Tell me the first letter of \"{x}\".",
        "The word \"{x}\" begins with which letter?", "Give only the first letter of {x}.",
        "What letter starts the word \"{x}\"?", "Spell just the first letter of: {x}",
        "Name the initial letter of \"{x}\".", "Which letter comes first in the word {x}?"},
       true},
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

namespace demo_detail {
namespace {

using Json = nlohmann::ordered_json;

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Json chat(const std::string& user, const std::string& assistant, const std::string& kind) {
  return Json{{"messages", Json::array({Json{{"role", "user"}, {"content", user}},
                                        Json{{"role", "assistant"}, {"content", assistant}}})},
              {"kind", kind}};
}

const char* const kRambles[] = {
    "I think that is right, but I am not completely sure about it.",
    "Let me say it again in other words, just to be very clear about it.",
    "That is what most people would tell you, more or less, if you asked them.",
    "There is a lot more that could be said about this, of course.",
};

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> words;
  std::string w;
  for (char c : s) {
    if (c == ' ') {
      if (!w.empty()) words.push_back(w), w.clear();
    } else {
      w += c;
    }
  }
  if (!w.empty()) words.push_back(w);
  return words;
}

std::string strip_punct(std::string x) {
  while (!x.empty() && std::ispunct((unsigned char)x.back())) x.pop_back();
  while (!x.empty() && std::ispunct((unsigned char)x.front())) x.erase(x.begin());
  return x;
}

// The items of one kind (item, reference answer), in a deterministic order. Knowledge kinds are
// cut to the closed set.
std::vector<QA> items_for(const InstructPools& p, const std::string& kind, int closed_set) {
  std::vector<QA> out;
  if (kind == "translate") out = p.translate;
  if (kind == "synonym") out = p.synonym;
  if (kind == "first_letter")
    for (const auto& w : p.words) out.push_back({w, std::string(1, w[0])});
  if (kind == "translate" || kind == "synonym" || kind == "first_letter") {
    if (out.size() > size_t(closed_set)) out.resize(size_t(closed_set));
    return out;
  }
  for (const auto& s : p.sentences) {
    std::vector<std::string> words = split_words(s.item);
    if (words.empty()) continue;
    std::string a = kind == "first_word"  ? strip_punct(words.front())
                    : kind == "last_word" ? strip_punct(words.back())
                                          : s.item;
    if (!a.empty()) out.push_back({s.item, a});
  }
  return out;
}

}  // namespace

void write_instruct_and_rlhf(const InstructPools& pools, const DemoDataOptions& opt,
                             const std::filesystem::path& dir, DemoDataSummary& summary) {
  std::string train, heldout, rank_prompts, prompts, rankings;
  std::vector<std::pair<std::string, Json>> train_rows;  // sorted by a seeded key below
  // Per kind: the items training may use (what RLHF prompts draw from) and its phrasing split.
  struct KindData {
    const InstructKind* kind;
    std::vector<QA> items;
    size_t first_train;  // items before it are held out (skill kinds only)
    PhrasingSplit ph;
  };
  std::vector<KindData> kinds;
  Rng rng(seed_for(opt.seed, "instruct"));
  const double share = 1.0 / double(instruct_kinds().size());
  for (const auto& kind : instruct_kinds()) {
    KindData kd{&kind, items_for(pools, kind.name, opt.closed_set), 0,
                split_phrasings(kind, opt.seed)};
    if (kd.items.size() < 4)
      throw InputError(dir.string(), 0, kind.name,
                       "too few items for instruction kind '" + kind.name + "' (" +
                           std::to_string(kd.items.size()) + ")",
                       "is the corpus complete? run scripts/fetch-corpus.sh again");
    const int n_train = std::max(1, int(opt.instruct_train * share + 0.5));
    const int n_held = std::max(1, int(opt.instruct_heldout * share + 0.5));
    // Skill kinds: held-out sentences are never trained on. Knowledge kinds: held-out items are
    // items also trained on (with other phrasings), so the held-out score measures the new
    // wording, not facts the model could not have learned.
    const size_t held_items = kind.closed_set ? 0 : std::min<size_t>(n_held, kd.items.size() / 2);
    kd.first_train = held_items;
    const size_t n_pool = kd.items.size() - held_items;
    for (int i = 0; i < n_train; ++i) {
      const QA& qa = kd.items[held_items + size_t(i) % n_pool];
      const std::string& p = kd.ph.train[rng.below(kd.ph.train.size())];
      train_rows.emplace_back(std::to_string(rng.next_u64()),
                              chat(apply_phrasing(p, qa.item), qa.answer, kind.name));
    }
    for (int i = 0; i < n_held; ++i) {
      const QA& qa = kind.closed_set ? kd.items[size_t(i) % std::min<size_t>(n_pool, n_train)]
                                     : kd.items[size_t(i) % held_items];
      const std::string& p = kd.ph.heldout[size_t(i) % kd.ph.heldout.size()];
      heldout += dump(chat(apply_phrasing(p, qa.item), qa.answer, kind.name)) + "\n";
      ++summary.instruct_heldout;
    }
    kinds.push_back(std::move(kd));
  }
  std::sort(train_rows.begin(), train_rows.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& r : train_rows) train += dump(r.second) + "\n";
  summary.instruct_train = int(train_rows.size());

  // Prompts for ranking (`demo rank`) and PPO: training phrasings and training items of every
  // kind in turn, with the reference (for the simulated ranker and for measuring; the policy
  // never sees it). The fixed-candidate rankings are an offline alternative to `demo rank`.
  Rng rr(seed_for(opt.seed, "rlhf"));
  const int total = opt.rlhf_rankings + opt.rlhf_prompts;
  for (int i = 0; i < total; ++i) {
    const KindData& kd = kinds[size_t(i) % kinds.size()];
    const size_t n_pool = kd.items.size() - kd.first_train;
    const QA& qa = kd.items[kd.first_train + rr.below(n_pool)];
    const std::string prompt = apply_phrasing(kd.ph.train[rr.below(kd.ph.train.size())], qa.item);
    const std::string line =
        dump(Json{{"prompt", prompt}, {"reference", qa.answer}, {"kind", kd.kind->name}}) + "\n";
    if (i >= opt.rlhf_rankings) {
      prompts += line;
      ++summary.rlhf_prompts;
      continue;
    }
    rank_prompts += line;
    std::string wrong;
    for (int tries = 0; tries < 16 && (wrong.empty() || answer_credit(wrong, qa.answer) > 0.5);
         ++tries)
      wrong = kd.items[kd.first_train + rr.below(n_pool)].answer;
    if (answer_credit(wrong, qa.answer) > 0.5) continue;
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
  write_file_atomic(dir / "rlhf" / "rank_prompts.jsonl", rank_prompts);
  write_file_atomic(dir / "rlhf" / "prompts.jsonl", prompts);
  write_file_atomic(dir / "rlhf" / "rankings.jsonl", rankings);
  std::string readme =
      "Rankings made from this directory come from a SIMULATED RANKER, not from people.\n\n"
      "Rule: " +
      std::string(kSimulatedRankerRule) +
      "\n\nrank_prompts.jsonl: {\"prompt\", \"reference\", \"kind\"}: `lmforge demo rank` lets "
      "the\n"
      "instruction-tuned model sample several answers to each and ranks them by the rule.\n"
      "prompts.jsonl: the same shape, prompts for PPO rollouts (the reference is for measuring;\n"
      "the policy never sees it).\n"
      "rankings.jsonl: {\"prompt\", \"responses\": [best, ..., worst]} of fixed candidates (the\n"
      "reference, it with rambling, another item's answer, that with rambling, \"I don't know.\")\n"
      "ordered by the rule: an offline alternative to ranking the model's own answers.\n"
      "Replace the simulated ranker with people: `lmforge label` then `lmforge label export`.\n";
  write_file_atomic(dir / "rlhf" / "README.txt", readme);
}

}  // namespace demo_detail
}  // namespace lmforge
