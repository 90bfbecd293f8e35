// `lmforge tokenizer train|encode|decode` as a user runs them: byte-exact round trip of a file
// with \r\n, invalid UTF-8 and emoji; special tokens only with --add-special; exit code 2 and the
// exact message for bad ids. Runs the built binary (LMFORGE_BINARY).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "lmforge/core/file_util.h"

namespace {
namespace fs = std::filesystem;

class TokenizerCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("lmforge_tok_cli_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string corpus;
    for (int i = 0; i < 300; ++i) {
      corpus += "Line " + std::to_string(i) + ": the cat's hat, 3.14 😀 日本\r\n";
      corpus += "  indented\twith tabs and trailing spaces   \n";
      if (i % 50 == 0) corpus += "bad bytes \xff\xfe and a lone \xc3 here\n\n";
    }
    corpus += "<|endoftext|> stays text\n";
    lmforge::write_file_atomic(dir_ / "corpus.txt", corpus);
    ASSERT_EQ(run("tokenizer train --input " + q(dir_ / "corpus.txt") +
                  " --vocab-size 300 --output " + q(dir_ / "tok")),
              0);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string q(const fs::path& p) { return "'" + p.string() + "'"; }
  // Runs lmforge with args (a shell fragment); stderr goes to dir_/err.txt. Returns the exit code.
  static int run(const std::string& args) {
    std::string cmd = std::string("'") + LMFORGE_BINARY + "' " + args + " 2>" + q(dir_ / "err.txt");
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  static std::string err() { return lmforge::read_file(dir_ / "err.txt"); }
  static inline fs::path dir_;
};

TEST_F(TokenizerCli, TrainWritesHfFiles) {
  EXPECT_TRUE(fs::exists(dir_ / "tok" / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(dir_ / "tok" / "tokenizer_config.json"));
  EXPECT_NE(err().find("resolved configuration"), std::string::npos);
}

TEST_F(TokenizerCli, EncodeDecodeRoundTripsBytes) {
  const std::string tok = " --tokenizer " + q(dir_ / "tok");
  ASSERT_EQ(run("tokenizer encode" + tok + " --input " + q(dir_ / "corpus.txt") + " > " +
                q(dir_ / "ids.txt")),
            0)
      << err();
  ASSERT_EQ(
      run("tokenizer decode" + tok + " < " + q(dir_ / "ids.txt") + " > " + q(dir_ / "back.txt")), 0)
      << err();
  EXPECT_EQ(lmforge::read_file(dir_ / "back.txt"), lmforge::read_file(dir_ / "corpus.txt"));
  std::string ids = lmforge::read_file(dir_ / "ids.txt");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), '\n'), 300 * 2 + 6 * 2 + 1);
}

TEST_F(TokenizerCli, SpecialTokensOnlyWithFlag) {
  const std::string tok = " --tokenizer " + q(dir_ / "tok");
  lmforge::write_file_atomic(dir_ / "special.txt", "<|endoftext|>\n");
  ASSERT_EQ(run("tokenizer encode" + tok + " --add-special --input " + q(dir_ / "special.txt") +
                " > " + q(dir_ / "s1.txt")),
            0);
  EXPECT_EQ(lmforge::read_file(dir_ / "s1.txt"), "297\n");  // 300 - 3 specials, eot first
  ASSERT_EQ(run("tokenizer encode" + tok + " --input " + q(dir_ / "special.txt") + " > " +
                q(dir_ / "s2.txt")),
            0);
  EXPECT_NE(lmforge::read_file(dir_ / "s2.txt"), "297\n");
}

TEST_F(TokenizerCli, BadIdIsInputError) {
  lmforge::write_file_atomic(dir_ / "bad.txt", "1 2 3\n5 abc\n");
  EXPECT_EQ(run("tokenizer decode --tokenizer " + q(dir_ / "tok") + " --input " +
                q(dir_ / "bad.txt") + " > /dev/null"),
            2);
  EXPECT_NE(err().find("error: " + (dir_ / "bad.txt").string() +
                       ":2: 'abc' is not a token id of this tokenizer (hint: ids are integers "
                       "from 0 to 299)"),
            std::string::npos)
      << err();
  lmforge::write_file_atomic(dir_ / "bad.txt", "300\n");
  EXPECT_EQ(run("tokenizer decode --tokenizer " + q(dir_ / "tok") + " --input " +
                q(dir_ / "bad.txt") + " > /dev/null"),
            2);
}

TEST_F(TokenizerCli, BadOptionsExitTwo) {
  EXPECT_EQ(run("tokenizer train --input " + q(dir_ / "corpus.txt") +
                " --vocab-size 100 --output " + q(dir_ / "small")),
            2);
  EXPECT_EQ(run("tokenizer encode --tokenizer " + q(dir_ / "nope") + " < /dev/null"), 2);
  EXPECT_NE(err().find("/nope: no such directory"), std::string::npos) << err();
}

}  // namespace
