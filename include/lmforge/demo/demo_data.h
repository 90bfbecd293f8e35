// The demo's built-in datasets, made from the corpus that scripts/fetch-corpus.sh leaves
// (CORPUS/general/*.txt, CORPUS/dict/*.{index,dict.dz}, CORPUS/wordnet/*):
//   DATA/general/   bible-kjv.txt + fortunes.txt, the pretraining corpus (copied)
//   DATA/domain/    train.txt + val.txt: Jargon File and FOLDOC entries, one document each
//   DATA/task/      train.jsonl + val.jsonl: {"prompt":"English: the house\nGerman:",
//                   "completion":" das Haus"} pairs from FreeDict, familiar words first
//   DATA/instruct/  train.jsonl + heldout.jsonl: {"messages":[user, assistant], "kind"} with
//                   many phrasings per kind; heldout uses only phrasings never used in train
//   DATA/rlhf/      rank_prompts.jsonl and prompts.jsonl {"prompt","reference","kind"} (for
//                   `demo rank` and PPO), rankings.jsonl {"prompt","responses":[best..worst]}
//                   of fixed candidates (an offline alternative), ordered by the SIMULATED
//                   RANKER rule below (no human ranked them), README.txt
//   DATA/LICENSES.txt   the corpus's license notes (copied when present)
//   DATA/manifest.json  counts, seed, and the ranker rule; written last (marks a complete build)
// Everything is deterministic for a given corpus and seed. Not here: file formats of the
// dictionaries (dictd.h, sources.h), tokenization, training.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lmforge {

// The stated rule of the simulated ranker (also in DATA/rlhf/README.txt and state.json).
extern const char* const kSimulatedRankerRule;

struct DemoDataOptions {
  std::filesystem::path corpus;  // what scripts/fetch-corpus.sh wrote
  std::filesystem::path output;  // DATA dir (built atomically, replaced when it exists)
  uint64_t seed = 1234;
  double domain_val_fraction = 0.05;
  int64_t domain_max_bytes = 6'000'000;  // cap on domain/train.txt + val.txt
  int task_pairs = 4000;                 // translation pairs in all
  int task_val = 200;
  int instruct_train = 3000;
  int instruct_heldout = 300;
  int closed_set = 150;     // items per knowledge kind (translate, synonym, first_letter)
  int rlhf_rankings = 600;  // prompts the instruction-tuned model answers for ranking
  int rlhf_prompts = 300;   // prompts for PPO
};

struct DemoDataSummary {
  int64_t general_bytes = 0, domain_train_docs = 0, domain_val_docs = 0, domain_bytes = 0;
  int task_train = 0, task_val = 0, instruct_train = 0, instruct_heldout = 0;
  int rlhf_prompts = 0, rlhf_rankings = 0;
};

// Builds DATA. InputError naming the missing file (with the fetch-corpus.sh hint) when the
// corpus is incomplete.
DemoDataSummary build_demo_data(const DemoDataOptions& opt);

// ---- pieces, exposed for tests ----

// The instruction kinds and their phrasings ("{x}" is the item: a term, a word, a sentence).
struct InstructKind {
  std::string name;                    // "translate", "first_word", ...
  std::vector<std::string> phrasings;  // every phrasing of the kind
  // Knowledge kinds ask a closed set of items that training covers (held-out = new wording);
  // skill kinds ask held-out items (sentences) never trained on.
  bool closed_set = false;
};
const std::vector<InstructKind>& instruct_kinds();

// The fixed split of a kind's phrasings: a seed-determined permutation; the last
// max(1, 30%) are held out, the rest are used for training. Disjoint by construction.
struct PhrasingSplit {
  std::vector<std::string> train, heldout;
};
PhrasingSplit split_phrasings(const InstructKind& kind, uint64_t seed);

// Fills "{x}" in a phrasing.
std::string apply_phrasing(const std::string& phrasing, const std::string& item);

// Lower case, one space between words, surrounding quotes and final . ! ? removed.
std::string normalize_answer(const std::string& s);

// The held-out score: the normalised answer equals the normalised reference.
bool exact_answer(const std::string& answer, const std::string& reference);

// The simulated ranker's graded credit in [0, 1] (kSimulatedRankerRule): 1 for an exact answer,
// else 0.9 · max(word F1, character-bigram F1) against the reference.
double answer_credit(const std::string& answer, const std::string& reference);

// The simulated ranker: orders answers best first for a reference answer by
// kSimulatedRankerRule (credit to 0.01 first, then the shorter answer, then byte order, so the
// order is total and deterministic).
std::vector<std::string> simulated_rank(std::vector<std::string> answers,
                                        const std::string& reference);

// Whether `answer` contains `reference` as whole words, ignoring case (the older, looser score;
// kept for `demo answer --metric contains`).
bool contains_answer(const std::string& answer, const std::string& reference);

}  // namespace lmforge
