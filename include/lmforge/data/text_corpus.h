// Pretraining text corpora: which files an input list names, and the documents inside them.
//   .txt            documents separated by blank lines (or one document per file)
//   .jsonl / .json  one {"text": ...} object per line (JSON Lines, also under a .json name)
// Files are streamed, so a corpus may be far larger than memory (one document must fit).
// Not here: tokenization, splits and shards (prepare.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "lmforge/data/jsonl.h"

namespace lmforge {

enum class DocSplit { kBlankLine, kFile };
enum class CorpusFormat { kText, kJsonl };

// "blank-line" | "file"; UsageError otherwise.
DocSplit parse_doc_split(const std::string& name);
std::string doc_split_name(DocSplit split);

struct CorpusFile {
  std::filesystem::path path;
  std::string display;  // the name used in errors and the manifest
  CorpusFormat format = CorpusFormat::kText;
  uint64_t bytes = 0;
};

// Expands inputs in order: a file is taken as given (it must end in .txt, .jsonl or .json); a
// directory contributes every such file below it, sorted by path, skipping hidden entries and
// subdirectories that hold manifest.json or tokenizer.json (prepared data, tokenizers, models).
// InputError naming the path for a missing input or an explicit file of another type.
std::vector<CorpusFile> collect_corpus_files(const std::vector<std::filesystem::path>& inputs);

// One document before tokenization. For JSONL it is still the raw line (parse it with
// document_text), so that parsing can run in parallel with the other documents.
struct RawDocument {
  std::string data;
  size_t file_index = 0;
  JsonlLocation where;  // file and 1-based line (the first line of a .txt document)
  bool is_json = false;
};

// The document's text: data itself, or the "text" field of the JSON line (InputError naming
// file:line and field when the line is malformed).
std::string document_text(RawDocument&& doc);

// Streams the documents of a list of files in order.
class DocumentReader {
 public:
  DocumentReader(const std::vector<CorpusFile>& files, DocSplit split);
  ~DocumentReader();
  // Next document; false when every file is exhausted. Documents of only whitespace are skipped
  // for .txt; empty JSON lines are skipped.
  bool next(RawDocument& doc);
  // Bytes of the input files consumed so far (for progress).
  uint64_t bytes_read() const { return done_bytes_ + current_bytes_; }

 private:
  bool open_next_file();
  const std::vector<CorpusFile>& files_;
  DocSplit split_;
  size_t file_ = 0;
  bool open_ = false;
  std::ifstream text_;
  std::unique_ptr<JsonlReader> jsonl_;
  int64_t line_ = 0;
  uint64_t done_bytes_ = 0, current_bytes_ = 0;
};

}  // namespace lmforge
