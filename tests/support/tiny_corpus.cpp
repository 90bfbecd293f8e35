// Definitions of the fixtures declared in tiny_corpus.h.
#include "support/tiny_corpus.h"

#include <sstream>

#include "lmforge/core/file_util.h"

namespace lmforge::test_data {
std::vector<nlohmann::json> read_metrics(const std::filesystem::path& run) {
  std::istringstream in(read_file(run / "metrics.jsonl"));
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto d =
      std::filesystem::temp_directory_path() / ("lmforge-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

std::vector<std::string> tiny_documents(int n, uint64_t seed) {
  static const char* subj[] = {"the cat", "a dog", "the old bird", "my friend", "a child"};
  static const char* verb[] = {"sees", "likes", "eats", "finds", "wants"};
  static const char* obj[] = {"the fish", "a red ball", "some bread", "the moon", "a book"};
  Rng rng(seed);
  std::vector<std::string> docs;
  for (int i = 0; i < n; ++i) {
    std::string d;
    int sentences = 3 + static_cast<int>(rng.below(4));
    for (int s = 0; s < sentences; ++s) {
      d += subj[rng.below(5)];
      d += " ";
      d += verb[rng.below(5)];
      d += " ";
      d += obj[rng.below(5)];
      d += s + 1 < sentences ? ". " : ".\n";
    }
    docs.push_back(d);
  }
  return docs;
}

Tokenizer tiny_tokenizer(const std::vector<std::string>& docs, int vocab) {
  TokenizerTrainOptions opt;
  opt.vocab_size = vocab;
  opt.progress = false;
  opt.threads = 1;
  return train_tokenizer_from_texts(docs, opt);
}

DataManifest write_tiny_data(const std::filesystem::path& dir, const Tokenizer& tok,
                             const std::vector<std::string>& docs) {
  std::filesystem::create_directories(dir);
  tok.save(dir);
  DataManifest m;
  m.tokenizer_hash = tok.content_hash();
  m.vocab_size = tok.vocab_size();
  m.eot_id = tok.eot_id();
  m.token_bytes = token_bytes_for_vocab(m.vocab_size);
  m.doc_split = "blank-line";
  m.val_fraction = 0.1;
  std::vector<int32_t> ids[2];
  SplitInfo* info[2] = {&m.train, &m.val};
  for (size_t i = 0; i < docs.size(); ++i) {
    int s = i % 10 == 9 ? 1 : 0;
    ids[s].push_back(m.eot_id);
    tok.encode_append(docs[i], ids[s]);
    info[s]->documents++;
    info[s]->bytes += docs[i].size();
  }
  const char* names[2] = {"train-00000.bin", "val-00000.bin"};
  for (int s = 0; s < 2; ++s) {
    write_shard(dir / names[s], ids[s], m.token_bytes);
    info[s]->tokens = ids[s].size();
    info[s]->shards = {{names[s], ids[s].size()}};
  }
  m.train_tokens = m.train.tokens;
  m.val_tokens = m.val.tokens;
  m.sources = {{"synthetic", 0, docs.size()}};
  write_manifest(dir, m);
  return m;
}

}  // namespace lmforge::test_data
