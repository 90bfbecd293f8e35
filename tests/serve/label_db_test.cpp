// Tests of the `lmforge label` SQLite store (serve/label_db.h): schema and version checks, one
// transaction per submit, submission validation, export content (read back with the rankings
// reader), agreement against hand-computed values, several writers at once, and kill safety (a
// process killed mid-transaction loses only that transaction).
#include "lmforge/serve/label_db.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "lmforge/data/datasets.h"
#include "support/tmp_files.h"

namespace lmforge {
namespace {

std::filesystem::path fresh(const std::string& name) {
  std::filesystem::create_directories(tmp_dir());
  const auto p = tmp_dir() / name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p.string() + suffix);
  return p;
}

int64_t scalar(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
  int64_t v = -1;
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

std::string text_of(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
  std::string v;
  if (sqlite3_step(s) == SQLITE_ROW) v = (const char*)sqlite3_column_text(s, 0);
  sqlite3_finalize(s);
  return v;
}

// A database with two prompts: p0 with answers a0,b0,c0 and p1 with answers a1,b1.
struct Fixture {
  explicit Fixture(const std::string& name) : path(fresh(name)), db(path, true) {
    ids = db.add_prompts({"P0", "P1"}, {"P0 rendered", "P1 rendered"});
    db.store_answers(ids[0], {"a0", "b0", "c0"}, {1, 2, 3});
    db.store_answers(ids[1], {"a1", "b1"}, {4, 5});
    for (const auto& a : db.answers(ids[0])) a0.push_back(a.id);
    for (const auto& a : db.answers(ids[1])) a1.push_back(a.id);
  }
  std::filesystem::path path;
  LabelDb db;
  std::vector<int64_t> ids, a0, a1;  // a0[i]: id of answer i of P0
};

RankingSubmission sub(const std::string& who, int64_t prompt, std::vector<int64_t> order) {
  RankingSubmission s;
  s.labeler = who;
  s.prompt_id = prompt;
  s.order = std::move(order);
  return s;
}

TEST(LabelDb, CreatesVersionedWalSchema) {
  Fixture f("schema.sqlite");
  EXPECT_EQ(scalar(f.db.handle(), "PRAGMA user_version"), LabelDb::kSchemaVersion);
  EXPECT_EQ(text_of(f.db.handle(), "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar(f.db.handle(), "SELECT count(*) FROM prompts"), 2);
  // Re-adding a prompt keeps its row; answers are stored once (first writer wins).
  EXPECT_EQ(f.db.add_prompts({"P1", "P2"}, {"x", "y"})[0], f.ids[1]);
  EXPECT_EQ(f.db.store_answers(f.ids[0], {"other", "answers"}, {9, 9}), 3);
  EXPECT_EQ(f.db.answers(f.ids[0])[0].text, "a0");
  // Reopening continues the same database.
  LabelDb again(f.path, false);
  EXPECT_EQ(again.answers(f.ids[1]).size(), 2u);
}

TEST(LabelDb, DuplicateAnswersAreDroppedAndTooFewSkipThePrompt) {
  Fixture f("dups.sqlite");
  const auto ids = f.db.add_prompts({"Q", "R"}, {"Q", "R"});
  EXPECT_EQ(f.db.store_answers(ids[0], {"x", "x", "y"}, {1, 2, 3}), 2);
  EXPECT_EQ(f.db.answers(ids[0]).size(), 2u);
  EXPECT_EQ(f.db.store_answers(ids[1], {"same", "same"}, {1, 2}), 1);
  EXPECT_FALSE(f.db.prompt(ids[1]).skip_reason.empty());
  EXPECT_TRUE(f.db.has_answers(ids[1]));  // decided: not sampled again
  const auto open = f.db.unranked_by("ann", {f.ids[0], f.ids[1], ids[0], ids[1]});
  ASSERT_EQ(open.size(), 3u);  // the skipped prompt is never offered
  EXPECT_THROW(f.db.submit(sub("ann", ids[1], {})), UsageError);
  const LabelStats st = f.db.stats();
  EXPECT_EQ(st.prompts, 4);
  EXPECT_EQ(st.skipped, 1);
}

TEST(LabelDb, NewerSchemaIsRefusedAndLeftUntouched) {
  const auto p = fresh("newer.sqlite");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE future(x); PRAGMA user_version=7", 0, 0, 0), SQLITE_OK);
  sqlite3_close(raw);
  try {
    LabelDb db(p, true);
    FAIL() << "a newer schema was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 7 is newer"), std::string::npos)
        << e.what();
    EXPECT_EQ(e.file(), p.string());
  }
  ASSERT_EQ(sqlite3_open(p.c_str(), &raw), SQLITE_OK);
  EXPECT_EQ(scalar(raw, "PRAGMA user_version"), 7);
  EXPECT_EQ(scalar(raw, "SELECT count(*) FROM sqlite_master"), 1);
  sqlite3_close(raw);
}

TEST(LabelDb, RefusesMissingForeignAndNonDatabaseFiles) {
  EXPECT_THROW(LabelDb(fresh("missing.sqlite"), false), InputError);
  EXPECT_FALSE(std::filesystem::exists(tmp_dir() / "missing.sqlite"));
  const auto text = write_tmp("notadb.sqlite", std::string(4096, 'x'));
  EXPECT_THROW(LabelDb(text, true), InputError);
  const auto other = fresh("other.sqlite");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE t(x)", 0, 0, 0), SQLITE_OK);
  sqlite3_close(raw);
  EXPECT_THROW(LabelDb(other, true), InputError);
}

TEST(LabelDb, SubmissionsAreValidated) {
  Fixture f("validate.sqlite");
  const auto& a = f.a0;
  EXPECT_THROW(f.db.submit(sub("ann", f.ids[0], {a[0], a[1]})), UsageError);           // missing
  EXPECT_THROW(f.db.submit(sub("ann", f.ids[0], {a[0], a[1], a[1]})), UsageError);     // repeated
  EXPECT_THROW(f.db.submit(sub("ann", f.ids[0], {a[0], a[1], f.a1[0]})), UsageError);  // foreign
  EXPECT_THROW(f.db.submit(sub("", f.ids[0], {a[0], a[1], a[2]})), UsageError);
  EXPECT_THROW(f.db.submit(sub("ann", 999, {a[0], a[1], a[2]})), UsageError);
  auto s = sub("ann", f.ids[0], {a[0], a[1], a[2]});
  s.tie_with_above = {true, false, false};
  EXPECT_THROW(f.db.submit(s), UsageError);
  s.tie_with_above = {false, true};
  EXPECT_THROW(f.db.submit(s), UsageError);
  s.tie_with_above = {};
  s.better = "b0";  // the same text as a model answer: the ranking would hold it twice
  EXPECT_THROW(f.db.submit(s), UsageError);
  EXPECT_EQ(scalar(f.db.handle(), "SELECT count(*) FROM rankings"), 0);
  s.better = "";
  EXPECT_GT(f.db.submit(s), 0);
  EXPECT_THROW(f.db.submit(s), LabelConflict);  // never the same prompt twice per labeler
  EXPECT_GT(f.db.submit(sub("bob", f.ids[0], {a[2], a[1], a[0]})), 0);
  EXPECT_EQ(scalar(f.db.handle(), "SELECT count(*) FROM rankings"), 2);
  EXPECT_EQ(f.db.rankings_by("ann"), 1);
  const auto open = f.db.unranked_by("ann", f.ids);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].first, f.ids[1]);
  const auto open_carl = f.db.unranked_by("carl", f.ids);
  ASSERT_EQ(open_carl.size(), 2u);
  EXPECT_EQ(open_carl[0].second, 2);  // P0 ranked twice
  EXPECT_EQ(open_carl[1].second, 0);
}

TEST(LabelDb, SubmitIsOneTransaction) {
  Fixture f("atomic.sqlite");
  // Make the third item's insert fail: nothing of that submit may remain (ranking, labeler).
  ASSERT_EQ(sqlite3_exec(f.db.handle(),
                         "CREATE TRIGGER boom BEFORE INSERT ON ranking_items WHEN NEW.position=2 "
                         "BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                         0, 0, 0),
            SQLITE_OK);
  EXPECT_THROW(f.db.submit(sub("dora", f.ids[0], {f.a0[0], f.a0[1], f.a0[2]})), RuntimeError);
  EXPECT_EQ(scalar(f.db.handle(), "SELECT count(*) FROM rankings"), 0);
  EXPECT_EQ(scalar(f.db.handle(), "SELECT count(*) FROM ranking_items"), 0);
  EXPECT_EQ(scalar(f.db.handle(), "SELECT count(*) FROM labelers"), 0);
  ASSERT_EQ(sqlite3_exec(f.db.handle(), "DROP TRIGGER boom", 0, 0, 0), SQLITE_OK);
  EXPECT_GT(f.db.submit(sub("dora", f.ids[0], {f.a0[0], f.a0[1], f.a0[2]})), 0);
  EXPECT_EQ(scalar(f.db.handle(), "SELECT count(*) FROM ranking_items"), 3);
}

TEST(LabelDb, ExportWritesRankingsJsonl) {
  Fixture f("export.sqlite");
  const auto& a = f.a0;
  auto s1 = sub("ann", f.ids[0], {a[1], a[0], a[2]});  // b0 > a0 = c0
  s1.tie_with_above = {false, false, true};
  f.db.submit(s1);
  auto s2 = sub("bob", f.ids[0], {a[2], a[1], a[0]});
  s2.better = "a written answer";
  f.db.submit(s2);
  auto s3 = sub("ann", f.ids[1], {f.a1[0], f.a1[1]});
  s3.all_bad = true;  // no better answer: left out
  f.db.submit(s3);
  auto s4 = sub("bob", f.ids[1], {f.a1[1], f.a1[0]});
  s4.all_bad = true;
  s4.better = "fixed";
  f.db.submit(s4);

  const auto out = tmp_dir() / "rankings.jsonl";
  const auto [written, excluded] = f.db.export_jsonl(out);
  EXPECT_EQ(written, 3);
  EXPECT_EQ(excluded, 1);
  std::istringstream in(read_file(out));
  std::vector<nlohmann::json> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["prompt"], "P0");
  EXPECT_EQ(lines[0]["responses"], nlohmann::json({"b0", "a0", "c0"}));
  EXPECT_EQ(lines[0]["ties"], nlohmann::json::parse("[[1,2]]"));
  EXPECT_EQ(lines[0]["labeler"], "ann");
  EXPECT_FALSE(lines[0].contains("better_written"));
  EXPECT_EQ(lines[1]["responses"], nlohmann::json({"a written answer", "c0", "b0", "a0"}));
  EXPECT_EQ(lines[1]["better_written"], true);
  EXPECT_FALSE(lines[1].contains("ties"));
  EXPECT_EQ(lines[2]["responses"], nlohmann::json({"fixed", "b1", "a1"}));
  EXPECT_EQ(lines[2]["all_bad"], true);
  // The training side reads it as it is.
  const auto back = read_rankings_jsonl(out);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[1].responses.front(), "a written answer");
}

TEST(LabelDb, AgreementMatchesHandCountedPairs) {
  Fixture f("agree.sqlite");
  const auto& a = f.a0;
  EXPECT_FALSE(f.db.stats().agreement.concordant_fraction.has_value());
  f.db.submit(sub("ann", f.ids[0], {a[0], a[1], a[2]}));
  f.db.submit(sub("bob", f.ids[0], {a[1], a[0], a[2]}));
  // (a,b) discordant, (a,c) and (b,c) concordant: C=2, D=1.
  LabelAgreement g = f.db.stats().agreement;
  EXPECT_EQ(g.prompts, 1);
  EXPECT_EQ(g.ranking_pairs, 1);
  EXPECT_EQ(g.concordant, 2);
  EXPECT_EQ(g.discordant, 1);
  EXPECT_NEAR(*g.concordant_fraction, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(*g.kendall_tau, 1.0 / 3.0, 1e-12);
  // A third labeler ties a and b (pair skipped against everyone) and agrees on the rest.
  auto s = sub("cid", f.ids[0], {a[1], a[0], a[2]});
  s.tie_with_above = {false, true, false};
  f.db.submit(s);
  // P1: two labelers in full disagreement; an "all bad" ranking does not count.
  f.db.submit(sub("ann", f.ids[1], {f.a1[0], f.a1[1]}));
  f.db.submit(sub("bob", f.ids[1], {f.a1[1], f.a1[0]}));
  auto bad = sub("cid", f.ids[1], {f.a1[0], f.a1[1]});
  bad.all_bad = true;
  f.db.submit(bad);
  g = f.db.stats().agreement;
  // P0: ann-bob C2 D1, ann-cid C2 D0, bob-cid C2 D0; P1: ann-bob C0 D1.
  EXPECT_EQ(g.prompts, 2);
  EXPECT_EQ(g.ranking_pairs, 4);
  EXPECT_EQ(g.concordant, 6);
  EXPECT_EQ(g.discordant, 2);
  EXPECT_NEAR(*g.concordant_fraction, 0.75, 1e-12);
  EXPECT_NEAR(*g.kendall_tau, (1.0 / 3 + 1 + 1 - 1) / 4, 1e-12);
  const LabelStats st = f.db.stats();
  EXPECT_EQ(st.labelled, 2);
  EXPECT_EQ(st.rankings, 6);
  EXPECT_EQ(st.all_bad, 1);
  ASSERT_EQ(st.per_labeler.size(), 3u);
  // Restricting to P1 only.
  EXPECT_EQ(f.db.stats(std::vector<int64_t>{f.ids[1]}).rankings, 3);
}

TEST(LabelDb, SeveralWritersAtOnce) {
  Fixture f("writers.sqlite");
  std::vector<std::thread> ts;
  for (int w = 0; w < 4; ++w) {
    ts.emplace_back([&, w] {
      LabelDb mine(f.path, false);  // its own connection: the busy timeout serializes writers
      for (int r = 0; r < 5; ++r) {
        const std::string who = "w" + std::to_string(w) + "-" + std::to_string(r);
        mine.submit(sub(who, f.ids[0], {f.a0[2], f.a0[0], f.a0[1]}));
        mine.submit(sub(who, f.ids[1], {f.a1[0], f.a1[1]}));
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(scalar(f.db.handle(), "SELECT count(*) FROM rankings"), 40);
  EXPECT_EQ(scalar(f.db.handle(), "SELECT count(*) FROM ranking_items"), 20 * 3 + 20 * 2);
}

TEST(LabelDb, KilledProcessKeepsCommittedRankings) {
  const auto p = fresh("kill.sqlite");
  std::vector<int64_t> ids, a0;
  {
    Fixture f("kill.sqlite");
    ids = f.ids;
    a0 = f.a0;
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child commits one ranking, then dies by SIGKILL in the middle of a second transaction.
    LabelDb db(p, false);
    db.submit(sub("ann", ids[0], {a0[0], a0[1], a0[2]}));
    sqlite3_exec(db.handle(), "BEGIN IMMEDIATE", 0, 0, 0);
    sqlite3_exec(
        db.handle(),
        "INSERT INTO labelers(name) VALUES('ghost'); INSERT INTO rankings(prompt_id, "
        "labeler_id, all_bad, better, duration_ms) VALUES(1, last_insert_rowid(), 0, '', 0)",
        0, 0, 0);
    sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    kill(getpid(), SIGKILL);
    _exit(3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  LabelDb db(p, false);
  EXPECT_EQ(text_of(db.handle(), "PRAGMA integrity_check"), "ok");
  const auto rs = db.rankings();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].labeler, "ann");
  EXPECT_EQ(rs[0].texts, (std::vector<std::string>{"a0", "b0", "c0"}));
  EXPECT_EQ(scalar(db.handle(), "SELECT count(*) FROM labelers WHERE name='ghost'"), 0);
  // The database takes new rankings after the crash.
  EXPECT_GT(db.submit(sub("bob", ids[0], {a0[2], a0[1], a0[0]})), 0);
}

}  // namespace
}  // namespace lmforge
