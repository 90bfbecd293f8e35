// `prepare` end to end on small temp corpora with the hand-made tiny tokenizer fixture:
// documents survive the round trip in order with <|endoftext|> before each, the split is the
// documented hash rule, output is byte-identical across runs and thread counts, and a bad input
// leaves nothing behind.
#include "lmforge/data/prepare.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/tokenizer.h"

namespace fs = std::filesystem;
using namespace lmforge;

namespace {
const fs::path kTokenizer = fs::path(LMFORGE_SOURCE_DIR) / "tests/data/fixtures/tiny_tokenizer";

fs::path fresh_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("lmforge-prep-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

PrepareOptions options(const fs::path& input, const fs::path& output) {
  PrepareOptions o;
  o.tokenizer_dir = kTokenizer;
  o.inputs = {input};
  o.output = output;
  o.show_progress = false;
  return o;
}

// The documents of a split, decoded, in order. Checks that the stream starts with <|endoftext|>.
std::vector<std::string> split_docs(const fs::path& dir, const std::string& split) {
  TokenDataset ds = TokenDataset::open(dir, split);
  std::vector<int32_t> ids(ds.num_tokens());
  ds.read(0, ids.size(), ids.data());
  Tokenizer tok = Tokenizer::load(dir);
  const int32_t eot = ds.manifest().eot_id;
  std::vector<std::string> docs;
  if (ids.empty()) return docs;
  EXPECT_EQ(ids[0], eot);
  std::vector<int32_t> cur;
  for (size_t i = 1; i <= ids.size(); ++i) {
    if (i == ids.size() || ids[i] == eot) {
      docs.push_back(tok.decode(cur));
      cur.clear();
    } else {
      cur.push_back(ids[i]);
    }
  }
  return docs;
}

std::map<std::string, std::string> dir_contents(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::directory_iterator(dir))
    out[e.path().filename().string()] = read_file(e.path());
  return out;
}

// A corpus of 3 files: blank-line separated .txt (with CRLF and a BOM), JSONL with a blank line
// and an empty text (skipped), and a .json file of JSON lines in a subdirectory.
std::vector<std::string> write_corpus(const fs::path& c) {
  write_file_atomic(c / "a.txt",
                    "\xEF\xBB\xBFThe cat sat.\nOn the mat.\n\n\n  \nSecond doc\r\nwith CRLF\r\n\r\n"
                    "Third: emoji \xF0\x9F\x98\x80 and <|endoftext|> as text.\n");
  write_file_atomic(c / "b.jsonl",
                    "{\"text\": \"json one\\n\\nstill one\"}\n\n{\"text\": \"\"}\n"
                    "{\"text\": \"json two\", \"id\": 9}\n");
  write_file_atomic(c / "sub" / "c.json", "{\"text\": \"the end and more\"}\n");
  write_file_atomic(c / "ignored.md", "not a corpus file");
  return {"The cat sat.\nOn the mat.",
          "Second doc\r\nwith CRLF",
          "Third: emoji \xF0\x9F\x98\x80 and <|endoftext|> as text.",
          "json one\n\nstill one",
          "json two",
          "the end and more"};
}
}  // namespace

TEST(Prepare, ValRuleIsDeterministicAndProportional) {
  int val = 0;
  for (uint64_t i = 0; i < 100000; ++i) val += is_val_document(i, 5, 0.1);
  EXPECT_GT(val, 9400);
  EXPECT_LT(val, 10600);
  EXPECT_EQ(is_val_document(123, 5, 0.1), is_val_document(123, 5, 0.1));
  int differ = 0;
  for (uint64_t i = 0; i < 1000; ++i)
    differ += is_val_document(i, 5, 0.5) != is_val_document(i, 6, 0.5);
  EXPECT_GT(differ, 300);  // the seed matters
  for (uint64_t i = 0; i < 1000; ++i) EXPECT_FALSE(is_val_document(i, 5, 0.0));
}

TEST(Prepare, EndToEndDocumentsSplitsAndShards) {
  fs::path d = fresh_dir("e2e");
  std::vector<std::string> docs = write_corpus(d / "corpus");
  PrepareOptions o = options(d / "corpus", d / "out");
  o.val_fraction = 0.4;
  o.seed = 3;
  o.shard_tokens = 16;
  DataManifest m = prepare_dataset(o);

  std::vector<std::string> expect_train, expect_val;
  for (size_t i = 0; i < docs.size(); ++i)
    (is_val_document(i, o.seed, o.val_fraction) ? expect_val : expect_train).push_back(docs[i]);
  ASSERT_FALSE(expect_val.empty()) << "pick a seed that puts a document in val";
  ASSERT_FALSE(expect_train.empty());
  EXPECT_EQ(split_docs(d / "out", "train"), expect_train);
  EXPECT_EQ(split_docs(d / "out", "val"), expect_val);

  DataManifest r = read_manifest(d / "out");
  EXPECT_EQ(manifest_to_json(r), manifest_to_json(m));
  EXPECT_EQ(r.vocab_size, 272);
  EXPECT_EQ(r.eot_id, 271);
  EXPECT_EQ(r.token_bytes, 2);
  EXPECT_EQ(r.train.documents, expect_train.size());
  EXPECT_EQ(r.val.documents, expect_val.size());
  EXPECT_GT(r.train.shards.size(), 1u);
  for (size_t i = 0; i + 1 < r.train.shards.size(); ++i) EXPECT_EQ(r.train.shards[i].tokens, 16u);
  EXPECT_EQ(r.train.shards[0].file, "train-00000.bin");
  uint64_t bytes = 0;
  for (auto& s : expect_train) bytes += s.size();
  EXPECT_EQ(r.train.bytes, bytes);
  ASSERT_EQ(r.sources.size(), 3u);  // ignored.md is not a corpus file
  EXPECT_EQ(r.sources[0].path, (d / "corpus" / "a.txt").string());
  EXPECT_EQ(r.sources[0].documents, 3u);
  EXPECT_EQ(r.sources[1].documents, 2u);  // the empty text is skipped
  EXPECT_EQ(r.sources[2].path, (d / "corpus" / "sub" / "c.json").string());
  EXPECT_EQ(r.doc_split, "blank-line");
  // A second run whose output lies inside the corpus, and a third over it: the earlier output's
  // .json files are not mistaken for corpus files.
  o.output = d / "corpus" / "data";
  prepare_dataset(o);
  EXPECT_EQ(manifest_to_json(prepare_dataset(o)), manifest_to_json(m));
  Tokenizer tok = Tokenizer::load(d / "out");  // the copied tokenizer is the same tokenizer
  EXPECT_EQ(tok.content_hash(), r.tokenizer_hash);
  EXPECT_EQ(tok.content_hash(), Tokenizer::load(kTokenizer).content_hash());
  EXPECT_TRUE(fs::exists(d / "out" / "tokenizer_config.json"));
  fs::remove_all(d);
}

TEST(Prepare, ByteIdenticalAcrossRunsAndThreadCounts) {
  fs::path d = fresh_dir("det");
  write_corpus(d / "corpus");
  // Many documents so that batches really are split across threads.
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "document " + std::to_string(i) + " is here.\n\n";
  write_file_atomic(d / "corpus" / "big.txt", big);
  PrepareOptions o = options(d / "corpus", d / "out1");
  o.shard_tokens = 8000;
  o.val_fraction = 0.05;
  o.threads = 1;
  prepare_dataset(o);
  o.output = d / "out2";
  o.threads = 2;
  prepare_dataset(o);
  auto a = dir_contents(d / "out1"), b = dir_contents(d / "out2");
  EXPECT_GT(a.size(), 6u);
  EXPECT_TRUE(a == b);
  DataManifest m = read_manifest(d / "out1");
  EXPECT_EQ(m.train.documents + m.val.documents, 3006u);
  EXPECT_GT(m.val.documents, 100u);
  // Re-running into an existing prepared directory replaces it.
  prepare_dataset(o);
  EXPECT_TRUE(dir_contents(d / "out2") == a);
  fs::remove_all(d);
}

TEST(Prepare, AtLeastOneValDocumentAndSingleDocument) {
  fs::path d = fresh_dir("minval");
  write_file_atomic(d / "two.txt", "first\n\nsecond\n");
  PrepareOptions o = options(d / "two.txt", d / "out");
  o.val_fraction = 0.0001;
  DataManifest m = prepare_dataset(o);
  EXPECT_EQ(m.train.documents, 1u);
  EXPECT_EQ(m.val.documents, 1u);
  EXPECT_EQ(split_docs(d / "out", "val"), std::vector<std::string>{"second"});

  write_file_atomic(d / "one.txt", "only one\n");
  o = options(d / "one.txt", d / "out1");
  o.val_fraction = 0.9;
  m = prepare_dataset(o);
  EXPECT_EQ(m.train.documents, 1u);
  EXPECT_EQ(m.val.documents, 0u);
  EXPECT_EQ(TokenDataset::open(d / "out1", "val").num_tokens(), 0u);

  o = options(d / "two.txt", d / "out0");
  o.val_fraction = 0;  // an explicit 0 means no validation split
  EXPECT_EQ(prepare_dataset(o).val.documents, 0u);
  fs::remove_all(d);
}

TEST(Prepare, DocSplitFile) {
  fs::path d = fresh_dir("file");
  write_file_atomic(d / "c" / "1.txt", "para one\n\npara two\n");
  write_file_atomic(d / "c" / "2.txt", "other\n");
  write_file_atomic(d / "c" / "3.txt", " \n\n");
  PrepareOptions o = options(d / "c", d / "out");
  o.doc_split = DocSplit::kFile;
  o.val_fraction = 0;
  DataManifest m = prepare_dataset(o);
  EXPECT_EQ(m.doc_split, "file");
  EXPECT_EQ(split_docs(d / "out", "train"),
            (std::vector<std::string>{"para one\n\npara two\n", "other\n"}));
  fs::remove_all(d);
}

TEST(Prepare, MalformedJsonlWritesNothing) {
  fs::path d = fresh_dir("bad");
  write_file_atomic(d / "good.txt", "fine\n");
  write_file_atomic(d / "bad.jsonl", "{\"text\": \"ok\"}\n\n{\"txt\": \"typo\"}\n");
  PrepareOptions o = options(d / "good.txt", d / "out");
  o.inputs.push_back(d / "bad.jsonl");
  try {
    prepare_dataset(o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), (d / "bad.jsonl").string() + ":3: field 'text': missing");
  }
  EXPECT_FALSE(fs::exists(d / "out"));
  for (auto& e : fs::directory_iterator(d))  // no temp directory left either
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();

  // An earlier complete output survives a failed re-run untouched.
  o.inputs = {d / "good.txt"};
  prepare_dataset(o);
  auto before = dir_contents(d / "out");
  o.inputs.push_back(d / "bad.jsonl");
  EXPECT_THROW(prepare_dataset(o), InputError);
  EXPECT_TRUE(dir_contents(d / "out") == before);
  fs::remove_all(d);
}

TEST(Prepare, BadOptionsNameThePath) {
  fs::path d = fresh_dir("opts");
  write_file_atomic(d / "a.txt", "text\n");
  auto error_of = [](const PrepareOptions& o) {
    try {
      prepare_dataset(o);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  PrepareOptions o = options(d / "a.txt", d / "out");
  o.inputs.push_back(d / "missing.txt");
  EXPECT_EQ(error_of(o), (d / "missing.txt").string() +
                             ": input path does not exist (hint: check the path given to --input)");
  o = options(d / "a.txt", d / "out");
  o.tokenizer_dir = d / "no-tok";
  EXPECT_EQ(error_of(o), (d / "no-tok").string() +
                             ": tokenizer directory does not exist (hint: train one with `lmforge "
                             "tokenizer train`, or pass a directory holding tokenizer.json (a "
                             "model directory works too))");
  write_file_atomic(d / "empty" / "e.txt", "\n \n\n");
  o = options(d / "empty", d / "out");
  EXPECT_EQ(
      error_of(o),
      "no documents found in the inputs (1 file(s), all empty or blank) (hint: check --input)");
  write_file_atomic(d / "notes.md", "x");
  o = options(d / "notes.md", d / "out");
  EXPECT_EQ(error_of(o), (d / "notes.md").string() +
                             ": unsupported input file type (hint: expected .txt (plain text) or "
                             ".jsonl/.json ({\"text\": ...} per line))");
  write_file_atomic(d / "precious" / "keep.txt", "mine");
  o = options(d / "a.txt", d / "precious");
  EXPECT_EQ(error_of(o), "--output '" + (d / "precious").string() +
                             "' exists and is not a prepared data directory; refusing to replace "
                             "it (hint: choose a new path or remove it)");
  EXPECT_TRUE(fs::exists(d / "precious" / "keep.txt"));
  o = options(d / "a.txt", d / "out");
  o.val_fraction = 1.0;
  EXPECT_THROW(prepare_dataset(o), UsageError);
  EXPECT_FALSE(fs::exists(d / "out"));
  fs::remove_all(d);
}
