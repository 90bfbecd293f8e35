// `lmforge instruct` as a user runs it: chat JSONL on a tiny synthetic instruction set (three
// phrasings of "swap two words"; the held-out conversations use word pairs never seen in
// training) raises instruct_accuracy over the base model; the ChatML template lands in the
// output's tokenizer_config.json; a base tokenizer without chat tokens gets them added with a
// notice and grown embeddings; bad conversations exit 2 naming file:line:field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lmforge/core/file_util.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/model/transformer.h"
#include "support/cli_run.h"
#include "support/tiny_corpus.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path g_root;

CliRun run(const std::string& args) {
  return run_lmforge(g_root, args);
}

void write(const fs::path& p, const std::string& s) {
  lmforge::write_file_atomic(p, s);
}

json conv(const std::string& a, const std::string& b, int k) {
  const char* ph[] = {"swap ", "please swap ", "reverse: "};
  return {{"messages",
           {{{"role", "system"}, {"content", "be brief"}},
            {{"role", "user"}, {"content", ph[k % 3] + a + " " + b}},
            {{"role", "assistant"}, {"content", b + " " + a}}}}};
}

void write_chats(const fs::path& dir) {
  const char* w[] = {"cat", "dog", "sun", "moon", "tree", "fish", "bird", "rock", "star", "lake"};
  std::string train, held, text;
  int k = 0;
  for (int a = 0; a < 10; ++a)
    for (int b = 0; b < 10; ++b) {
      if (a == b) continue;
      json c = conv(w[a], w[b], k);
      (k % 9 == 4 ? held : train) += c.dump() + "\n";
      ++k;
      text +=
          std::string("please swap the ") + w[a] + " and reverse the " + w[b] + ". be brief.\n\n";
    }
  write(dir / "chat.jsonl", train);
  write(dir / "heldout.jsonl", held);
  write(dir / "corpus.txt", text);
}

class InstructCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_root = lmforge::test_data::temp_dir("instruct-cli");
    write_chats(g_root);
    std::string t = g_root.string();
    // The base tokenizer has no chat markers: instruct adds them.
    ASSERT_EQ(run("tokenizer train --input " + t +
                  "/corpus.txt --vocab-size 300 --special "
                  "'<|endoftext|>' --output " +
                  t + "/tok")
                  .code,
              0);
    ASSERT_EQ(run("prepare --tokenizer " + t + "/tok --input " + t + "/corpus.txt --output " + t +
                  "/data")
                  .code,
              0);
    CliRun r = run("pretrain --data " + t + "/data --output " + t +
                   "/base --n-layer 2 --n-head 2 --n-embd 64 --n-ctx 64 --max-steps 30 "
                   "--batch-size 8 --threads 1 --peak-gflops 10");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(g_root); }
  std::string base() const { return (g_root / "base" / "final").string(); }
  std::string path(const std::string& f) const { return (g_root / f).string(); }
};

}  // namespace

TEST_F(InstructCli, RaisesHeldOutAccuracyAndWritesTheTemplate) {
  lmforge::Tokenizer base_tok = lmforge::Tokenizer::load(base());
  ASSERT_FALSE(base_tok.special_id("<|im_end|>"));
  CliRun r = run("instruct --init " + base() + " --data " + path("chat.jsonl") + " --heldout " +
                 path("heldout.jsonl") + " --output " + path("in") +
                 " --lr 3e-3 --max-steps 200 --batch-size 8 --eval-every 100 --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("notice: the tokenizer"), std::string::npos) << r.err;
  json s = json::parse(lmforge::read_file(g_root / "in" / "summary.json"));
  EXPECT_EQ(s["stage"], "instruct");
  const double start = s["start"]["instruct_accuracy"], end = s["instruct_accuracy"];
  EXPECT_LE(start, 0.1);
  EXPECT_GE(end, start + 0.5) << s.dump();
  // The output model knows the chat tokens, has the grown vocabulary and the ChatML template.
  fs::path fin = g_root / "in" / "final";
  lmforge::Tokenizer tok = lmforge::Tokenizer::load(fin);
  ASSERT_TRUE(tok.special_id("<|im_end|>"));
  lmforge::Transformer m = lmforge::Transformer::load(fin);
  EXPECT_GE(m.config().vocab_size, tok.vocab_size());
  json cfg = json::parse(lmforge::read_file(fin / "tokenizer_config.json"));
  EXPECT_NE(cfg["chat_template"].get<std::string>().find("<|im_start|>"), std::string::npos);
}

TEST_F(InstructCli, BadConversationsExitTwo) {
  write(g_root / "role.jsonl",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", "
        "\"content\": \"b\"}]}\n{\"messages\": [{\"role\": \"robot\", \"content\": \"a\"}]}\n");
  CliRun r = run("instruct --init " + base() + " --data " + path("role.jsonl") + " --output " +
                 path("bad1"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("role.jsonl:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("role"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(g_root / "bad1"));

  write(g_root / "noasst.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\n");
  r = run("instruct --init " + base() + " --data " + path("noasst.jsonl") + " --output " +
          path("bad2"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("noasst.jsonl:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("assistant"), std::string::npos) << r.err;

  write(g_root / "held.jsonl",
        "{\"messages\": [{\"role\": \"assistant\", \"content\": \"hi\"}, {\"role\": \"user\", "
        "\"content\": \"a\"}]}\n");
  r = run("instruct --init " + base() + " --data " + path("chat.jsonl") + " --heldout " +
          path("held.jsonl") + " --output " + path("bad3"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("held.jsonl:1"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(g_root / "bad3"));
}
