// The SQLite store of `lmforge label`: prompts, the K answers sampled once per prompt (so every
// labeler ranks the same answers), labelers, and their rankings (best to worst, with ties, "all
// bad" and an optional better answer written by the labeler). Also computes progress and
// inter-labeler agreement, and exports the rankings JSONL of docs/DATA_FORMATS.md.
// Durability: WAL journal, synchronous=FULL, every write in one transaction (a kill loses at most
// the submit in flight, never a committed one, and never corrupts the file); a busy timeout lets
// several processes share the file. The schema version lives in PRAGMA user_version; a database
// from a newer version is refused with InputError (exit 2), never touched.
// Not here: HTTP, the web page, sampling the answers (label_server.h). Not thread-safe: one
// LabelDb per thread, or a mutex around it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lmforge/core/error.h"

struct sqlite3;

namespace lmforge {

// A submit that collides with one already stored (the labeler ranked this prompt before).
class LabelConflict : public UsageError {
 public:
  using UsageError::UsageError;
};

struct LabelAnswer {
  int64_t id = 0;
  int idx = 0;  // sample number within its prompt
  std::string text;
};

struct LabelPromptRow {
  int64_t id = 0;
  std::string text;         // as in prompts.jsonl (what the export writes)
  std::string rendered;     // what the model saw (chat template applied when --chat)
  std::string skip_reason;  // non-empty: not offered (e.g. fewer than 2 distinct answers)
};

struct RankingSubmission {
  std::string labeler;
  int64_t prompt_id = 0;
  std::vector<int64_t> order;        // answer ids, best first: each answer of the prompt once
  std::vector<bool> tie_with_above;  // per position (empty: no ties); [0] must be false
  bool all_bad = false;
  std::string better;  // a better answer written by the labeler ("" when none)
  int64_t duration_ms = 0;
};

struct StoredRanking {
  int64_t id = 0, prompt_id = 0;
  std::string prompt, labeler, better, created_at;
  bool all_bad = false;
  std::vector<int64_t> answer_ids;  // best first
  std::vector<std::string> texts;   // same order
  std::vector<int> levels;          // rank level per position; equal levels are ties
};

struct LabelAgreement {
  // Over prompts ranked by at least two labelers ("all bad" rankings excluded): for every two
  // rankings of a prompt and every pair of its answers ordered strictly by both, the pair is
  // concordant when both put the same answer first. concordant_fraction pools all such pairs;
  // kendall_tau is the mean over ranking pairs of (C - D) / (C + D) (Kendall's tau-a when there
  // are no ties; with ties skipped it is Goodman-Kruskal's gamma). Absent when nothing compares.
  int64_t prompts = 0, ranking_pairs = 0, concordant = 0, discordant = 0;
  std::optional<double> concordant_fraction, kendall_tau;
};

struct LabelStats {
  int64_t prompts = 0;  // in the set asked about (all in the database by default)
  int64_t skipped = 0;  // of those, not offered (fewer than 2 distinct answers)
  int64_t with_answers = 0;
  int64_t labelled = 0;  // with at least one ranking
  int64_t rankings = 0, all_bad = 0, with_better = 0;
  std::vector<std::pair<std::string, int64_t>> per_labeler;  // name, rankings; most first
  LabelAgreement agreement;
};

class LabelDb {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens (create: or creates) the database and checks its schema version. Throws InputError
  // naming the file when it is missing (create == false), not SQLite, not an lmforge feedback
  // database, or from a newer schema version.
  LabelDb(const std::filesystem::path& path, bool create);
  ~LabelDb();
  LabelDb(const LabelDb&) = delete;
  LabelDb& operator=(const LabelDb&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Key/value notes about the session (model, sampling); set_meta keeps an existing value unless
  // overwrite. Returns the value stored afterwards.
  std::string meta(const std::string& key) const;
  std::string set_meta(const std::string& key, const std::string& value, bool overwrite);

  // Inserts prompts (one transaction); a text already stored keeps its row. Returns the ids in
  // input order.
  std::vector<int64_t> add_prompts(const std::vector<std::string>& texts,
                                   const std::vector<std::string>& rendered);
  LabelPromptRow prompt(int64_t id) const;  // throws UsageError for an unknown id

  // The stored answers of a prompt (empty until store_answers), by idx.
  std::vector<LabelAnswer> answers(int64_t prompt_id) const;
  bool has_answers(int64_t prompt_id) const;
  // Stores the answers of a prompt in one transaction, or marks it skipped when fewer than two
  // are distinct (duplicates are dropped). Does nothing when answers are already stored (the
  // first writer wins, so every labeler sees the same ones). Returns the distinct count kept.
  int store_answers(int64_t prompt_id, const std::vector<std::string>& texts,
                    const std::vector<uint64_t>& seeds);

  // Prompts among `ids` not yet ranked by `labeler`, not skipped, with their ranking counts,
  // in the order of `ids`.
  std::vector<std::pair<int64_t, int64_t>> unranked_by(const std::string& labeler,
                                                       const std::vector<int64_t>& ids) const;
  int64_t rankings_by(const std::string& labeler) const;

  // Validates and stores one ranking in one transaction. Throws UsageError for a bad submission
  // (unknown prompt, order not a permutation of its answers, better answer equal to one of them,
  // empty labeler name), LabelConflict when this labeler already ranked this prompt. Returns the
  // ranking id.
  int64_t submit(const RankingSubmission& s);

  std::vector<StoredRanking> rankings() const;  // by id
  // Stats over `ids` (nullopt: every prompt in the database).
  LabelStats stats(const std::optional<std::vector<int64_t>>& ids = std::nullopt) const;

  // Writes the rankings JSONL atomically; returns {written, excluded "all bad" without a better
  // answer}. See docs/LABELING.md for the keys.
  std::pair<int64_t, int64_t> export_jsonl(const std::filesystem::path& out) const;

  sqlite3* handle() { return db_; }  // for tests (transactions, crash checks)

 private:
  void exec(const char* sql) const;
  void create_schema();
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
};

// One exported JSONL line of a ranking (no trailing newline), or "" when it is excluded ("all bad"
// without a better answer).
std::string ranking_json_line(const StoredRanking& r);

// Agreement over groups of rankings of the same prompt (see LabelAgreement).
LabelAgreement compute_agreement(const std::vector<StoredRanking>& rankings);

}  // namespace lmforge
