// SQLite storage for `lmforge label` (see label_db.h): schema, prepared statements, one
// transaction per write, agreement and export. Not here: the HTTP layer and answer sampling.
#include "lmforge/serve/label_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "lmforge/core/file_util.h"

namespace lmforge {
namespace {

// Version 1: meta, prompts, answers, labelers, rankings, ranking_items.
const char* kSchema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE prompts(
  id INTEGER PRIMARY KEY,
  text TEXT NOT NULL UNIQUE,
  rendered TEXT NOT NULL,
  skip_reason TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
CREATE TABLE answers(
  id INTEGER PRIMARY KEY,
  prompt_id INTEGER NOT NULL REFERENCES prompts(id),
  idx INTEGER NOT NULL,
  text TEXT NOT NULL,
  seed INTEGER NOT NULL,
  UNIQUE(prompt_id, idx),
  UNIQUE(prompt_id, text));
CREATE TABLE labelers(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
CREATE TABLE rankings(
  id INTEGER PRIMARY KEY,
  prompt_id INTEGER NOT NULL REFERENCES prompts(id),
  labeler_id INTEGER NOT NULL REFERENCES labelers(id),
  all_bad INTEGER NOT NULL,
  better TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  UNIQUE(prompt_id, labeler_id));
CREATE TABLE ranking_items(
  ranking_id INTEGER NOT NULL REFERENCES rankings(id),
  position INTEGER NOT NULL,
  answer_id INTEGER NOT NULL REFERENCES answers(id),
  level INTEGER NOT NULL,
  PRIMARY KEY(ranking_id, position));
CREATE INDEX rankings_by_prompt ON rankings(prompt_id);
)sql";

// A prepared statement that finalizes itself. Binding is 1-based as in SQLite.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      throw RuntimeError(std::string("[label db] ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), (int)v.size(), SQLITE_TRANSIENT);
    return *this;
  }
  // True while a row is available; throws on errors (busy past the timeout included).
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw RuntimeError(std::string("[label db] ") + sqlite3_errmsg(db_));
  }
  void run() {
    while (step()) {
    }
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  std::string text(int col) const {
    const auto* p = (const char*)sqlite3_column_text(s_, col);
    return p ? std::string(p, (size_t)sqlite3_column_bytes(s_, col)) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted (an exception).
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { run("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    run("COMMIT");
    done_ = true;
  }

 private:
  void run(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown error";
      sqlite3_free(err);
      throw RuntimeError(std::string("[label db] ") + sql + ": " + m);
    }
  }
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace

LabelDb::LabelDb(const std::filesystem::path& path, bool create) : path_(path) {
  const std::string p = path.string();
  if (!create && !std::filesystem::exists(path))
    throw InputError(p, 0, "", "file not found", "give the --db file that `lmforge label` wrote");
  const int flags =
      SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(p.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string m = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw InputError(p, 0, "", "cannot open the database: " + m);
  }
  sqlite3_busy_timeout(db_, 10000);  // several labelers, or an export while the server runs
  try {
    int version = 0;
    try {
      Stmt v(db_, "PRAGMA user_version");
      if (v.step()) version = (int)v.i64(0);
    } catch (const RuntimeError&) {
      throw InputError(p, 0, "", "not a SQLite database (" + std::string(sqlite3_errmsg(db_)) + ")",
                       "give a feedback database written by `lmforge label`, or a new file name");
    }
    if (version > kSchemaVersion)
      throw InputError(p, 0, "user_version",
                       "database schema version " + std::to_string(version) +
                           " is newer than this lmforge understands (version " +
                           std::to_string(kSchemaVersion) + "); nothing was changed",
                       "use the newer lmforge that wrote it, or a different --db file");
    if (version == 0) {
      Stmt t(db_, "SELECT count(*) FROM sqlite_master");
      t.step();
      if (t.i64(0) > 0)
        throw InputError(p, 0, "", "not an lmforge feedback database (it has other tables)",
                         "give a new file name for --db");
      if (!create)
        throw InputError(p, 0, "", "empty database: no feedback collected yet",
                         "run `lmforge label --model ... --prompts ... --db FILE` first");
    }
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    if (version == 0) create_schema();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

LabelDb::~LabelDb() {
  if (db_) sqlite3_close(db_);
}

void LabelDb::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    throw RuntimeError("[label db] " + path_.string() + ": " + m);
  }
}

void LabelDb::create_schema() {
  Transaction tx(db_);
  exec(kSchema);
  exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
  tx.commit();
}

std::string LabelDb::meta(const std::string& key) const {
  Stmt s(db_, "SELECT value FROM meta WHERE key=?");
  s.bind(1, key);
  return s.step() ? s.text(0) : std::string();
}

std::string LabelDb::set_meta(const std::string& key, const std::string& value, bool overwrite) {
  Stmt s(db_, overwrite ? "INSERT OR REPLACE INTO meta(key,value) VALUES(?,?)"
                        : "INSERT OR IGNORE INTO meta(key,value) VALUES(?,?)");
  s.bind(1, key).bind(2, value).run();
  return meta(key);
}

std::vector<int64_t> LabelDb::add_prompts(const std::vector<std::string>& texts,
                                          const std::vector<std::string>& rendered) {
  check(texts.size() == rendered.size(), "label db", "texts and rendered differ in length");
  std::vector<int64_t> ids;
  Transaction tx(db_);
  Stmt ins(db_, "INSERT OR IGNORE INTO prompts(text, rendered) VALUES(?,?)");
  Stmt get(db_, "SELECT id FROM prompts WHERE text=?");
  for (size_t i = 0; i < texts.size(); ++i) {
    ins.bind(1, texts[i]).bind(2, rendered[i]).run();
    ins.reset();
    get.bind(1, texts[i]);
    get.step();
    ids.push_back(get.i64(0));
    get.reset();
  }
  tx.commit();
  return ids;
}

LabelPromptRow LabelDb::prompt(int64_t id) const {
  Stmt s(db_, "SELECT id, text, rendered, skip_reason FROM prompts WHERE id=?");
  s.bind(1, id);
  if (!s.step()) throw UsageError("unknown prompt id " + std::to_string(id));
  return {s.i64(0), s.text(1), s.text(2), s.text(3)};
}

std::vector<LabelAnswer> LabelDb::answers(int64_t prompt_id) const {
  Stmt s(db_, "SELECT id, idx, text FROM answers WHERE prompt_id=? ORDER BY idx");
  s.bind(1, prompt_id);
  std::vector<LabelAnswer> out;
  while (s.step()) out.push_back({s.i64(0), (int)s.i64(1), s.text(2)});
  return out;
}

bool LabelDb::has_answers(int64_t prompt_id) const {
  Stmt s(db_,
         "SELECT EXISTS(SELECT 1 FROM answers WHERE prompt_id=?1) OR "
         "(SELECT skip_reason != '' FROM prompts WHERE id=?1)");
  s.bind(1, prompt_id);
  return s.step() && s.i64(0) != 0;
}

int LabelDb::store_answers(int64_t prompt_id, const std::vector<std::string>& texts,
                           const std::vector<uint64_t>& seeds) {
  check(texts.size() == seeds.size(), "label db", "texts and seeds differ in length");
  Transaction tx(db_);
  {
    Stmt have(db_, "SELECT count(*) FROM answers WHERE prompt_id=?");
    have.bind(1, prompt_id).step();
    if (have.i64(0) > 0) return (int)have.i64(0);  // rolled back: nothing was written
  }
  std::vector<size_t> keep;
  std::set<std::string> seen;
  for (size_t i = 0; i < texts.size(); ++i)
    if (seen.insert(texts[i]).second) keep.push_back(i);
  if (keep.size() < 2) {
    Stmt s(db_, "UPDATE prompts SET skip_reason=? WHERE id=?");
    s.bind(1, "the model gave fewer than 2 distinct answers").bind(2, prompt_id).run();
  } else {
    Stmt s(db_, "INSERT INTO answers(prompt_id, idx, text, seed) VALUES(?,?,?,?)");
    for (size_t k = 0; k < keep.size(); ++k) {
      s.bind(1, prompt_id).bind(2, (int64_t)k).bind(3, texts[keep[k]]);
      s.bind(4, (int64_t)seeds[keep[k]]).run();
      s.reset();
    }
  }
  tx.commit();
  return (int)keep.size();
}

std::vector<std::pair<int64_t, int64_t>> LabelDb::unranked_by(
    const std::string& labeler, const std::vector<int64_t>& ids) const {
  std::set<int64_t> mine, skipped;
  std::map<int64_t, int64_t> count;
  {
    Stmt s(db_,
           "SELECT r.prompt_id FROM rankings r JOIN labelers l ON l.id=r.labeler_id "
           "WHERE l.name=?");
    s.bind(1, labeler);
    while (s.step()) mine.insert(s.i64(0));
  }
  {
    Stmt s(db_, "SELECT prompt_id, count(*) FROM rankings GROUP BY prompt_id");
    while (s.step()) count[s.i64(0)] = s.i64(1);
  }
  {
    Stmt s(db_, "SELECT id FROM prompts WHERE skip_reason != ''");
    while (s.step()) skipped.insert(s.i64(0));
  }
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t id : ids)
    if (!mine.count(id) && !skipped.count(id)) out.emplace_back(id, count[id]);
  return out;
}

int64_t LabelDb::rankings_by(const std::string& labeler) const {
  Stmt s(db_,
         "SELECT count(*) FROM rankings r JOIN labelers l ON l.id=r.labeler_id WHERE l.name=?");
  s.bind(1, labeler).step();
  return s.i64(0);
}

int64_t LabelDb::submit(const RankingSubmission& sub) {
  if (sub.labeler.empty() || sub.labeler.size() > 100)
    throw UsageError("labeler name must be 1 to 100 characters");
  const LabelPromptRow p = prompt(sub.prompt_id);
  if (!p.skip_reason.empty())
    throw UsageError("prompt " + std::to_string(p.id) + " is not offered: " + p.skip_reason);
  const std::vector<LabelAnswer> ans = answers(sub.prompt_id);
  if (ans.size() < 2)
    throw UsageError("prompt " + std::to_string(p.id) + " has no answers to rank yet");
  std::set<int64_t> want, got(sub.order.begin(), sub.order.end());
  for (const auto& a : ans) want.insert(a.id);
  if (got != want || sub.order.size() != ans.size())
    throw UsageError("the order must list each of the prompt's " + std::to_string(ans.size()) +
                     " answer ids exactly once");
  if (!sub.tie_with_above.empty() &&
      (sub.tie_with_above.size() != sub.order.size() || sub.tie_with_above[0]))
    throw UsageError("ties: one flag per position, and the first answer cannot tie with one above");
  for (const auto& a : ans)
    if (!sub.better.empty() && a.text == sub.better)
      throw UsageError(
          "the written answer is identical to one of the model's answers; rank that "
          "one first instead");

  Transaction tx(db_);
  {
    Stmt s(db_, "INSERT OR IGNORE INTO labelers(name) VALUES(?)");
    s.bind(1, sub.labeler).run();
  }
  int64_t labeler_id = 0;
  {
    Stmt s(db_, "SELECT id FROM labelers WHERE name=?");
    s.bind(1, sub.labeler).step();
    labeler_id = s.i64(0);
  }
  {
    Stmt s(db_, "SELECT id FROM rankings WHERE prompt_id=? AND labeler_id=?");
    s.bind(1, sub.prompt_id).bind(2, labeler_id);
    if (s.step())
      throw LabelConflict("labeler '" + sub.labeler + "' already ranked prompt " +
                          std::to_string(sub.prompt_id));
  }
  {
    Stmt s(db_,
           "INSERT INTO rankings(prompt_id, labeler_id, all_bad, better, duration_ms) "
           "VALUES(?,?,?,?,?)");
    s.bind(1, sub.prompt_id).bind(2, labeler_id).bind(3, (int64_t)sub.all_bad);
    s.bind(4, sub.better).bind(5, std::max<int64_t>(0, sub.duration_ms)).run();
  }
  const int64_t rid = sqlite3_last_insert_rowid(db_);
  Stmt item(db_,
            "INSERT INTO ranking_items(ranking_id, position, answer_id, level) VALUES(?,?,?,?)");
  int level = 0;
  for (size_t i = 0; i < sub.order.size(); ++i) {
    const bool tie = !sub.tie_with_above.empty() && sub.tie_with_above[i];
    if (i > 0 && !tie) level = (int)i;
    item.bind(1, rid).bind(2, (int64_t)i).bind(3, sub.order[i]).bind(4, (int64_t)level).run();
    item.reset();
  }
  tx.commit();
  return rid;
}

std::vector<StoredRanking> LabelDb::rankings() const {
  std::vector<StoredRanking> out;
  std::map<int64_t, size_t> at;
  {
    Stmt s(db_,
           "SELECT r.id, r.prompt_id, p.text, l.name, r.better, r.created_at, r.all_bad "
           "FROM rankings r JOIN prompts p ON p.id=r.prompt_id "
           "JOIN labelers l ON l.id=r.labeler_id ORDER BY r.id");
    while (s.step()) {
      StoredRanking r;
      r.id = s.i64(0);
      r.prompt_id = s.i64(1);
      r.prompt = s.text(2);
      r.labeler = s.text(3);
      r.better = s.text(4);
      r.created_at = s.text(5);
      r.all_bad = s.i64(6) != 0;
      at[r.id] = out.size();
      out.push_back(std::move(r));
    }
  }
  Stmt s(db_,
         "SELECT i.ranking_id, i.answer_id, a.text, i.level FROM ranking_items i "
         "JOIN answers a ON a.id=i.answer_id ORDER BY i.ranking_id, i.position");
  while (s.step()) {
    StoredRanking& r = out[at.at(s.i64(0))];
    r.answer_ids.push_back(s.i64(1));
    r.texts.push_back(s.text(2));
    r.levels.push_back((int)s.i64(3));
  }
  return out;
}

LabelAgreement compute_agreement(const std::vector<StoredRanking>& rankings) {
  std::map<int64_t, std::vector<const StoredRanking*>> by_prompt;
  for (const auto& r : rankings)
    if (!r.all_bad) by_prompt[r.prompt_id].push_back(&r);
  LabelAgreement a;
  double tau_sum = 0;
  int64_t tau_n = 0;
  for (const auto& [pid, rs] : by_prompt) {
    if (rs.size() < 2) continue;
    ++a.prompts;
    for (size_t x = 0; x < rs.size(); ++x) {
      for (size_t y = x + 1; y < rs.size(); ++y) {
        // level of each answer in each ranking
        std::map<int64_t, int> lx, ly;
        for (size_t i = 0; i < rs[x]->answer_ids.size(); ++i)
          lx[rs[x]->answer_ids[i]] = rs[x]->levels[i];
        for (size_t i = 0; i < rs[y]->answer_ids.size(); ++i)
          ly[rs[y]->answer_ids[i]] = rs[y]->levels[i];
        int64_t c = 0, d = 0;
        const auto& ids = rs[x]->answer_ids;
        for (size_t i = 0; i < ids.size(); ++i) {
          for (size_t j = i + 1; j < ids.size(); ++j) {
            if (!ly.count(ids[i]) || !ly.count(ids[j])) continue;
            const int dx = lx[ids[i]] - lx[ids[j]], dy = ly[ids[i]] - ly[ids[j]];
            if (dx == 0 || dy == 0) continue;  // a tie in either ranking: no order to compare
            ((dx < 0) == (dy < 0) ? c : d) += 1;
          }
        }
        ++a.ranking_pairs;
        a.concordant += c;
        a.discordant += d;
        if (c + d > 0) tau_sum += double(c - d) / double(c + d), ++tau_n;
      }
    }
  }
  if (a.concordant + a.discordant > 0)
    a.concordant_fraction = double(a.concordant) / double(a.concordant + a.discordant);
  if (tau_n > 0) a.kendall_tau = tau_sum / double(tau_n);
  return a;
}

LabelStats LabelDb::stats(const std::optional<std::vector<int64_t>>& ids) const {
  std::set<int64_t> set;
  if (ids) {
    set.insert(ids->begin(), ids->end());
  } else {
    Stmt s(db_, "SELECT id FROM prompts");
    while (s.step()) set.insert(s.i64(0));
  }
  LabelStats st;
  st.prompts = (int64_t)set.size();
  {
    Stmt s(db_, "SELECT id, skip_reason != '' FROM prompts");
    while (s.step())
      if (set.count(s.i64(0)) && s.i64(1)) ++st.skipped;
  }
  {
    Stmt s(db_, "SELECT DISTINCT prompt_id FROM answers");
    while (s.step())
      if (set.count(s.i64(0))) ++st.with_answers;
  }
  std::vector<StoredRanking> rs;
  std::set<int64_t> labelled;
  std::map<std::string, int64_t> per;
  for (auto& r : rankings()) {
    if (!set.count(r.prompt_id)) continue;
    labelled.insert(r.prompt_id);
    ++st.rankings;
    st.all_bad += r.all_bad;
    st.with_better += !r.better.empty();
    ++per[r.labeler];
    rs.push_back(std::move(r));
  }
  st.labelled = (int64_t)labelled.size();
  st.per_labeler.assign(per.begin(), per.end());
  std::stable_sort(st.per_labeler.begin(), st.per_labeler.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  st.agreement = compute_agreement(rs);
  return st;
}

std::string ranking_json_line(const StoredRanking& r) {
  if (r.all_bad && r.better.empty()) return "";
  nlohmann::ordered_json j;
  j["prompt"] = r.prompt;
  std::vector<std::string> responses;
  const size_t off = r.better.empty() ? 0 : 1;
  if (off) responses.push_back(r.better);
  responses.insert(responses.end(), r.texts.begin(), r.texts.end());
  j["responses"] = responses;
  // Groups of tied positions (indices into "responses"), from the labeler's "tie with the one
  // above" marks; the order inside a group is the submitted one.
  nlohmann::json ties = nlohmann::json::array();
  for (size_t i = 0; i < r.levels.size();) {
    size_t k = i + 1;
    while (k < r.levels.size() && r.levels[k] == r.levels[i]) ++k;
    if (k - i > 1) {
      nlohmann::json g = nlohmann::json::array();
      for (size_t t = i; t < k; ++t) g.push_back(t + off);
      ties.push_back(g);
    }
    i = k;
  }
  if (!ties.empty()) j["ties"] = ties;
  if (off) j["better_written"] = true;
  if (r.all_bad) j["all_bad"] = true;
  j["labeler"] = r.labeler;
  j["ranking_id"] = r.id;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::pair<int64_t, int64_t> LabelDb::export_jsonl(const std::filesystem::path& out) const {
  const std::vector<StoredRanking> rs = rankings();
  int64_t written = 0, excluded = 0;
  write_file_atomic_with(out, [&](std::FILE* f) {
    for (const auto& r : rs) {
      const std::string line = ranking_json_line(r);
      if (line.empty()) {
        ++excluded;
        continue;
      }
      std::fwrite(line.data(), 1, line.size(), f);
      std::fputc('\n', f);
      ++written;
    }
  });
  return {written, excluded};
}

}  // namespace lmforge
