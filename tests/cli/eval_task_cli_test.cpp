// `lmforge eval --task` end to end on a tiny model: malformed task rows exit 2 naming file, line
// and field; --data and --task are exclusive; shared-context and per-choice scoring print the
// same metrics; a generation task whose answers are the model's own greedy responses scores
// exact_match 1 (and 0 against other answers); a perplexity task reports word/byte perplexity and
// bits per byte consistent with its per-document log-likelihoods.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lmforge/core/file_util.h"
#include "support/cli_run.h"
#include "support/tiny_model.h"

using namespace lmforge;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path g_dir;

CliRun run(const std::string& args) {
  return run_lmforge(g_dir, "eval --model " + g_dir.string() + " --threads 1 " + args);
}

fs::path write(const std::string& name, const std::string& text) {
  write_file_atomic(g_dir / name, text);
  return g_dir / name;
}

std::vector<json> jsonl(const std::string& text) {
  std::vector<json> v;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(json::parse(line));
  return v;
}

class EvalTaskCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Tokenizer tok = Tokenizer::load(test::tokenizer_dir());
    Transformer m = test::make_model(test::tiny_cfg("gpt2", tok.vocab_size()), 31);
    g_dir = test::save_model_dir(m, "evaltaskcli");
  }
  static void TearDownTestSuite() { fs::remove_all(g_dir); }
};

}  // namespace

TEST_F(EvalTaskCli, MalformedRowExitsTwoNamingFileLineAndField) {
  const fs::path f = write("bad.jsonl",
                           "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"gold\": 1}\n"
                           "{\"context\": \"b\", \"choices\": [\"x\", 7], \"gold\": 0}\n");
  CliRun r = run("--task " + f.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(f.string() + ":2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("choices[1]"), std::string::npos) << r.err;
  r = run(
      "--task " +
      write("bad2.jsonl", "{\"context\": \"a\", \"choices\": [\"x\"], \"gold\": 3}\n").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(":1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gold"), std::string::npos) << r.err;
  // Neither or both of --data / --task.
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("--task " + f.string() + " --data " + f.string()).code, 2);
}

TEST_F(EvalTaskCli, SharedAndPerChoiceScoringAgree) {
  std::string rows;
  for (int i = 0; i < 30; ++i)
    rows += "{\"context\": \"Question " + std::to_string(i) +
            ": the cat sat on the\", \"choices\": [\"mat\", \"hat and coat\", \"Straße\", \"\"], "
            "\"gold\": " +
            std::to_string(i % 4) + "}\n";
  const fs::path f = write("mc.jsonl", rows);
  CliRun a = run("--task " + f.string() + " --json --rows " + (g_dir / "a.jsonl").string());
  CliRun b = run("--task " + f.string() + " --json --no-shared-context --rows " +
                 (g_dir / "b.jsonl").string());
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  const json ja = json::parse(a.out)["tasks"][0], jb = json::parse(b.out)["tasks"][0];
  EXPECT_EQ(ja["kind"], "multiple_choice");
  EXPECT_EQ(ja["rows"], 30);
  EXPECT_EQ(ja["metrics"]["acc"]["value"], jb["metrics"]["acc"]["value"]);
  EXPECT_EQ(ja["metrics"]["acc_norm"]["value"], jb["metrics"]["acc_norm"]["value"]);
  EXPECT_EQ(ja["metrics"]["acc"]["stderr_method"], "mean_stderr");
  const auto ra = jsonl(read_file(g_dir / "a.jsonl")), rb = jsonl(read_file(g_dir / "b.jsonl"));
  ASSERT_EQ(ra.size(), 30u);
  for (size_t i = 0; i < ra.size(); ++i)
    for (size_t c = 0; c < 4; ++c)
      EXPECT_NEAR(ra[i]["lls"][c].get<double>(), rb[i]["lls"][c].get<double>(), 1e-5);
  // The text form names the metrics with their standard errors.
  CliRun t = run("--task " + f.string() + " --limit 5");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("acc_norm"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("±"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("5 rows"), std::string::npos) << t.out;
}

TEST_F(EvalTaskCli, PromptOptionsTakeBackslashEscapes) {
  const fs::path f = write("two.jsonl",
                           "{\"context\": \"Q: a\", \"choices\": [\"x\", \"y\"], \"gold\": 0}\n"
                           "{\"context\": \"Q: b\", \"choices\": [\"z\", \"w\"], \"gold\": 1}\n");
  CliRun a = run("--task " + f.string() +
                 " --num-fewshot 1 --description 'D\\n' --fewshot-delimiter '\\n' --rows " +
                 (g_dir / "two-rows.jsonl").string());
  ASSERT_EQ(a.code, 0) << a.err;
  const auto rows = jsonl(read_file(g_dir / "two-rows.jsonl"));
  ASSERT_EQ(rows.size(), 2u);
  // Each row's only possible example is the other row: description, example, delimiter, question.
  Tokenizer tok = Tokenizer::load(g_dir);
  EXPECT_EQ(rows[0]["context_ids"].get<std::vector<int32_t>>(), tok.encode("D\nQ: b w\nQ: a"));
  EXPECT_EQ(rows[1]["context_ids"].get<std::vector<int32_t>>(), tok.encode("D\nQ: a x\nQ: b"));
}

TEST_F(EvalTaskCli, GenerationExactMatchAgainstTheModelsOwnAnswers) {
  const fs::path f = write("gen.jsonl",
                           "{\"question\": \"The cat\", \"answer\": \"zzz-not-it\"}\n"
                           "{\"question\": \"A dog\", \"answer\": \"zzz-not-it\"}\n"
                           "{\"question\": \"Hello\", \"answer\": \"zzz-not-it\"}\n");
  // The first ASCII word of each response (or the fallback "[invalid]"): a random tiny model
  // may answer with any bytes.
  const std::string opts = " --max-gen-tokens 6 --answer-regex '[A-Za-z]+' --json";
  CliRun a = run("--task " + f.string() + opts + " --rows " + (g_dir / "g.jsonl").string());
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(json::parse(a.out)["tasks"][0]["metrics"]["exact_match"]["value"], 0.0);
  const auto rows = jsonl(read_file(g_dir / "g.jsonl"));
  ASSERT_EQ(rows.size(), 3u);
  std::string again;
  const char* qs[] = {"The cat", "A dog", "Hello"};
  for (size_t i = 0; i < 3; ++i)
    again += json{{"question", qs[i]}, {"answer", rows[i]["extracted"]}}.dump() + "\n";
  CliRun b = run("--task " + write("gen2.jsonl", again).string() + opts);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(json::parse(b.out)["tasks"][0]["metrics"]["exact_match"]["value"], 1.0);
}

TEST_F(EvalTaskCli, ChatGenerationAndFewShotRun) {
  const fs::path f = write("gen3.jsonl",
                           "{\"question\": \"Q: one\", \"answer\": \"1\"}\n"
                           "{\"question\": \"Q: two\", \"answer\": \"2\"}\n"
                           "{\"question\": \"Q: three\", \"answer\": \"3\"}\n");
  // Through the chat template (ChatML when the model has none), one example before each question,
  // the default 256 new tokens on a 64-token model (the prompt keeps at least half the window).
  CliRun a = run("--task " + f.string() + " --chat --num-fewshot 1 --json --rows " +
                 (g_dir / "c.jsonl").string());
  ASSERT_EQ(a.code, 0) << a.err;
  const json t = json::parse(a.out)["tasks"][0];
  EXPECT_EQ(t["kind"], "generation");
  EXPECT_EQ(t["num_fewshot"], 1);
  EXPECT_EQ(jsonl(read_file(g_dir / "c.jsonl")).size(), 3u);
  // Too few rows for the examples asked for: a usage error.
  EXPECT_EQ(run("--task " + f.string() + " --num-fewshot 3").code, 2);
}

TEST_F(EvalTaskCli, PerplexityFromPerDocumentLogLikelihoods) {
  const fs::path f =
      write("ppl.jsonl",
            "{\"text\": \"The cat sat on the mat.\"}\n"
            "{\"text\": \"Die Straße ist lang, und der Hund schläft.\"}\n"
            "{\"text\": \"A much longer document that runs over more than one window of "
            "sixteen tokens so that the rolling windows are used.\"}\n");
  CliRun a = run("--task " + f.string() + " --max-length 16 --json --rows " +
                 (g_dir / "p.jsonl").string());
  ASSERT_EQ(a.code, 0) << a.err;
  const json m = json::parse(a.out)["tasks"][0]["metrics"];
  double ll = 0, words = 0, bytes = 0;
  for (const auto& r : jsonl(read_file(g_dir / "p.jsonl")))
    ll += r["ll"].get<double>(), words += r["words"].get<double>(),
        bytes += r["bytes"].get<double>();
  EXPECT_EQ(words, 6 + 8 + 21);
  EXPECT_NEAR(m["word_perplexity"]["value"].get<double>(), std::exp(-ll / words), 1e-6);
  EXPECT_NEAR(m["byte_perplexity"]["value"].get<double>(), std::exp(-ll / bytes), 1e-9);
  EXPECT_NEAR(m["bits_per_byte"]["value"].get<double>(), -ll / bytes / std::log(2.0), 1e-9);
  EXPECT_EQ(m["bits_per_byte"]["stderr_method"], "bootstrap");
  EXPECT_GT(m["bits_per_byte"]["stderr"].get<double>(), 0);
}
