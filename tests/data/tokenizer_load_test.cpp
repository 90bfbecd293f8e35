// Loading tokenizers from disk: GPT-2's encoder.json + vocab.bpe, HF tokenizer.json (merges as
// strings or pairs), the save/load round trip between the two, and the exact error text for
// malformed files (each names the file and the field).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/byte_level.h"
#include "lmforge/data/pretokenize.h"
#include "lmforge/data/tokenizer.h"

namespace lmforge {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

class TokenizerLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lmforge_tok_load_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // 256 byte tokens in GPT-2 order, then "Ġt", "he", "Ġthe", then <|endoftext|>.
  static json vocab() {
    json v = json::object();
    for (int i = 0; i < 256; ++i)
      v[bytes_to_byte_level(std::string(1, static_cast<char>(byte_level_order()[i])))] = i;
    v["\u0120t"] = 256;
    v["he"] = 257;
    v["\u0120the"] = 258;
    v["<|endoftext|>"] = 259;
    return v;
  }
  static json hf_json() {
    json j;
    j["version"] = "1.0";
    j["added_tokens"] =
        json::array({{{"id", 259}, {"content", "<|endoftext|>"}, {"special", true}}});
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
    j["model"] = {{"type", "BPE"},
                  {"vocab", vocab()},
                  {"merges", json::array({"\u0120 t", json::array({"h", "e"}), "\u0120t he"})}};
    return j;
  }
  void write_hf(const json& j) { write_file_atomic(dir_ / "tokenizer.json", j.dump(1)); }
  std::string file() const { return (dir_ / "tokenizer.json").string(); }
  // what() of the InputError that loading throws ("" when it does not throw).
  std::string load_error() {
    try {
      Tokenizer::load(dir_);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(TokenizerLoad, Gpt2FilesAndHfJsonAgree) {
  write_file_atomic(dir_ / "encoder.json", vocab().dump());
  write_file_atomic(dir_ / "vocab.bpe", "#version: 0.2\n\u0120 t\nh e\n\u0120t he\n");
  Tokenizer g = Tokenizer::load(dir_);
  EXPECT_EQ(g.vocab_size(), 260);
  EXPECT_EQ(g.eot_id(), 259);
  EXPECT_EQ(g.split_pattern(), SplitPattern::kGpt2);
  EXPECT_EQ(g.encode(" the"), std::vector<int32_t>{258});
  EXPECT_EQ(g.encode(" then"), (std::vector<int32_t>{258, 77}));  // byte 'n' has id 'n' - '!' = 77
  EXPECT_EQ(g.encode_with_special("<|endoftext|>"), std::vector<int32_t>{259});
  fs::remove(dir_ / "encoder.json");
  fs::remove(dir_ / "vocab.bpe");
  write_hf(hf_json());
  Tokenizer h = Tokenizer::load(dir_);
  EXPECT_EQ(h.content_hash(), g.content_hash());
  EXPECT_EQ(h.encode(" then the"), g.encode(" then the"));
  // A tokenizer.json path works as well as its directory.
  EXPECT_EQ(Tokenizer::load(dir_ / "tokenizer.json").content_hash(), g.content_hash());
  // Saving writes HF layout + config; loading it back is the same tokenizer.
  h.save(dir_ / "saved");
  Tokenizer s = Tokenizer::load(dir_ / "saved");
  EXPECT_EQ(s.content_hash(), g.content_hash());
  auto cfg = nlohmann::json::parse(read_file(dir_ / "saved" / "tokenizer_config.json"));
  EXPECT_EQ(cfg["eos_token"], "<|endoftext|>");
  EXPECT_EQ(cfg["model_max_length"], 1024);
  EXPECT_FALSE(cfg.contains("chat_template"));  // no <|im_start|>/<|im_end|> in this vocabulary
  auto tj = nlohmann::json::parse(read_file(dir_ / "saved" / "tokenizer.json"));
  EXPECT_EQ(tj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"],
            std::string(kGpt2SplitRegex));
  EXPECT_EQ(tj["model"]["merges"][2], "\u0120t he");
}

TEST_F(TokenizerLoad, NotJson) {
  write_file_atomic(dir_ / "tokenizer.json", "{\n \"model\": {\n  ]\n");
  EXPECT_EQ(load_error(),
            file() + ":3: not valid JSON (hint: check the file is a complete JSON document)");
}

TEST_F(TokenizerLoad, MissingModel) {
  json j = hf_json();
  j.erase("model");
  write_hf(j);
  EXPECT_EQ(load_error(), file() + ": field 'model': missing or not a JSON object");
}

TEST_F(TokenizerLoad, WrongModelType) {
  json j = hf_json();
  j["model"]["type"] = "Unigram";
  write_hf(j);
  EXPECT_EQ(load_error(), file() +
                              ": field 'model.type': unsupported model type \"Unigram\" (hint: "
                              "only BPE is supported)");
}

TEST_F(TokenizerLoad, MergeOfUnknownToken) {
  json j = hf_json();
  j["model"]["merges"][1] = "z q";
  write_hf(j);
  EXPECT_EQ(load_error(),
            file() + ": field 'model.merges[1]': token 'zq' is not in the vocabulary");
}

TEST_F(TokenizerLoad, MalformedMerge) {
  json j = hf_json();
  j["model"]["merges"][0] = "abc";
  write_hf(j);
  EXPECT_EQ(load_error(), file() +
                              ": field 'model.merges[0]': expected \"LEFT RIGHT\" (two tokens, one "
                              "space), got \"abc\"");
  j["model"]["merges"][0] = 7;
  write_hf(j);
  EXPECT_EQ(load_error(),
            file() + ": field 'model.merges[0]': expected \"LEFT RIGHT\" or [\"LEFT\", \"RIGHT\"]");
}

TEST_F(TokenizerLoad, MissingByteToken) {
  json j = hf_json();
  j["model"]["vocab"].erase("A");
  j["model"]["vocab"]["\u0120\u0120"] = 32;  // keeps the ids dense without 'A'
  write_hf(j);
  EXPECT_EQ(load_error(), file() +
                              ": field 'model.vocab': no token for byte 0x41 (hint: a byte-level "
                              "BPE vocabulary needs all 256 single-byte tokens)");
}

TEST_F(TokenizerLoad, GapInIds) {
  json j = hf_json();
  j["model"]["vocab"]["he"] = 300;
  write_hf(j);
  EXPECT_EQ(load_error(), file() +
                              ": field 'model.vocab': id 257 is missing (hint: token ids "
                              "must be 0..N-1 without gaps)");
}

TEST_F(TokenizerLoad, NotByteLevel) {
  json j = hf_json();
  j["model"]["vocab"]["中"] = 260;
  write_hf(j);
  EXPECT_EQ(load_error(), file() +
                              ": field 'model.vocab': token '中' is not in GPT-2's byte-level form "
                              "(hint: only byte-level BPE vocabularies (GPT-2, Llama 3, Qwen "
                              "style) are supported)");
}

TEST_F(TokenizerLoad, PrefixSpaceAndNormalizer) {
  json j = hf_json();
  j["pre_tokenizer"]["add_prefix_space"] = true;
  write_hf(j);
  EXPECT_EQ(load_error(), file() +
                              ": field 'pre_tokenizer.add_prefix_space': true is not supported "
                              "(hint: lmforge never adds a prefix space; write false)");
  j = hf_json();
  j["normalizer"] = {{"type", "NFC"}};
  write_hf(j);
  EXPECT_EQ(load_error(),
            file() + ": field 'normalizer': normalizers are not supported (hint: write null)");
}

TEST_F(TokenizerLoad, BadVocabBpeLine) {
  write_file_atomic(dir_ / "encoder.json", vocab().dump());
  write_file_atomic(dir_ / "vocab.bpe", "#version: 0.2\n\u0120 t\nabc\n");
  EXPECT_EQ(load_error(), (dir_ / "vocab.bpe").string() +
                              ":3: field 'merge': expected \"LEFT RIGHT\", got \"abc\"");
}

TEST_F(TokenizerLoad, EmptyDirectory) {
  EXPECT_EQ(load_error(), dir_.string() +
                              ": holds neither tokenizer.json nor encoder.json + vocab.bpe (hint: "
                              "pass a directory written by `lmforge tokenizer train` or a model "
                              "directory)");
}

// Issue 13 item 17: a split regex that does not compile and ill-typed pre-tokenizer keys are
// InputErrors naming the file and the field (they were a RuntimeError and a bare
// json type_error.302, exit 1).
TEST_F(TokenizerLoad, BadSplitRegexNamesTheField) {
  json j = hf_json();
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array({{{"type", "Split"}, {"pattern", {{"Regex", "(abc"}}}, {"behavior", "Isolated"}},
                    {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  write_hf(j);
  const std::string err = load_error();
  EXPECT_EQ(err.rfind(file() + ": field 'pre_tokenizer.pretokenizers[0].pattern.Regex': ", 0), 0u)
      << err;
}

TEST_F(TokenizerLoad, IllTypedPreTokenizerKeysNameTheField) {
  json j = hf_json();
  j["pre_tokenizer"]["type"] = 7;
  write_hf(j);
  EXPECT_EQ(load_error(), file() + ": field 'pre_tokenizer.type': expected a string, got number");
  j = hf_json();
  j["pre_tokenizer"]["add_prefix_space"] = "no";
  write_hf(j);
  EXPECT_EQ(
      load_error(),
      file() + ": field 'pre_tokenizer.add_prefix_space': expected true or false, got string");
  j = hf_json();
  j["model"]["type"] = json::array({"BPE"});
  write_hf(j);
  EXPECT_EQ(load_error(), file() + ": field 'model.type': expected a string, got array");
  j = hf_json();
  j["added_tokens"][0]["id"] = int64_t(1) << 40;
  write_hf(j);
  EXPECT_EQ(load_error(), file() +
                              ": field 'added_tokens[0]': expected {\"id\": integer >= 0, "
                              "\"content\": string}");
}

}  // namespace
}  // namespace lmforge
