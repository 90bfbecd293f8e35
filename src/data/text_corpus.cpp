// Corpus file discovery and streaming document splitting for `prepare` (see text_corpus.h).
// Not here: tokenization or output (prepare.cpp).
#include "lmforge/data/text_corpus.h"

#include <algorithm>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace lmforge {
namespace fs = std::filesystem;

namespace {
constexpr const char* kBom = "\xEF\xBB\xBF";

bool is_blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n\f\v") == std::string::npos;
}

bool corpus_format(const fs::path& p, CorpusFormat& format) {
  const std::string ext = p.extension().string();
  if (ext == ".txt") {
    format = CorpusFormat::kText;
    return true;
  }
  if (ext == ".jsonl" || ext == ".json") {
    format = CorpusFormat::kJsonl;
    return true;
  }
  return false;
}

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}
}  // namespace

DocSplit parse_doc_split(const std::string& name) {
  if (name == "blank-line") return DocSplit::kBlankLine;
  if (name == "file") return DocSplit::kFile;
  throw UsageError("--doc-split must be blank-line or file, got '" + name + "'");
}

std::string doc_split_name(DocSplit split) {
  return split == DocSplit::kFile ? "file" : "blank-line";
}

std::vector<CorpusFile> collect_corpus_files(const std::vector<fs::path>& inputs) {
  std::vector<CorpusFile> files;
  for (const fs::path& input : inputs) {
    std::error_code ec;
    const auto status = fs::status(input, ec);
    if (ec || !fs::exists(status))
      throw InputError(input.string(), 0, "", "input path does not exist",
                       "check the path given to --input");
    CorpusFile f;
    if (fs::is_regular_file(status)) {
      if (!corpus_format(input, f.format))
        throw InputError(input.string(), 0, "", "unsupported input file type",
                         "expected .txt (plain text) or .jsonl/.json ({\"text\": ...} per line)");
      f.path = input;
      f.display = input.string();
      f.bytes = fs::file_size(input);
      files.push_back(f);
      continue;
    }
    if (!fs::is_directory(status))
      throw InputError(input.string(), 0, "", "input is neither a file nor a directory");
    std::vector<CorpusFile> found;
    for (auto it = fs::recursive_directory_iterator(input);
         it != fs::recursive_directory_iterator(); ++it) {
      // A prepared data directory or a tokenizer/model directory below a corpus (say, an
      // earlier `--output corpus/data`) holds .json files that are not text: never read them.
      if (hidden(it->path()) ||
          (it->is_directory() && (fs::exists(it->path() / "manifest.json") ||
                                  fs::exists(it->path() / "tokenizer.json")))) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file() || !corpus_format(it->path(), f.format)) continue;
      f.path = it->path();
      f.display = it->path().string();
      f.bytes = it->file_size();
      found.push_back(f);
    }
    // Directory iteration order is the filesystem's; sorting makes the output reproducible.
    std::sort(found.begin(), found.end(),
              [](const CorpusFile& a, const CorpusFile& b) { return a.path < b.path; });
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

std::string document_text(RawDocument&& doc) {
  if (!doc.is_json) return std::move(doc.data);
  nlohmann::json obj = parse_jsonl_line(doc.data, doc.where);
  return doc.where.required_string(obj, "text");
}

DocumentReader::DocumentReader(const std::vector<CorpusFile>& files, DocSplit split)
    : files_(files), split_(split) {}

DocumentReader::~DocumentReader() = default;

bool DocumentReader::open_next_file() {
  if (file_ >= files_.size()) return false;
  const CorpusFile& f = files_[file_];
  line_ = 0;
  current_bytes_ = 0;
  if (f.format == CorpusFormat::kJsonl) {
    jsonl_ = std::make_unique<JsonlReader>(f.path, f.display);
  } else {
    text_ = std::ifstream(f.path, std::ios::binary);
    if (!text_) throw InputError(f.display, 0, "", "cannot read file", "check its permissions");
  }
  open_ = true;
  return true;
}

bool DocumentReader::next(RawDocument& doc) {
  for (;;) {
    if (!open_ && !open_next_file()) return false;
    const CorpusFile& f = files_[file_];
    doc.file_index = file_;
    doc.where.file = f.display;
    if (f.format == CorpusFormat::kJsonl) {
      if (jsonl_->next_line(doc.data)) {
        doc.is_json = true;
        doc.where.line = jsonl_->location().line;
        current_bytes_ = std::min(jsonl_->bytes_read(), f.bytes);
        return true;
      }
      jsonl_.reset();
    } else if (split_ == DocSplit::kFile) {
      doc.data = read_file(f.path);
      if (doc.data.rfind(kBom, 0) == 0) doc.data.erase(0, 3);
      doc.is_json = false;
      doc.where.line = 1;
      text_.close();
      done_bytes_ += f.bytes;
      current_bytes_ = 0;
      open_ = false;
      ++file_;
      if (is_blank(doc.data)) continue;
      return true;
    } else {
      // Blank-line split: a document is a run of non-blank lines, kept byte for byte (including
      // "\r\n" line ends) except for the line end after its last line.
      std::string line;
      doc.data.clear();
      while (std::getline(text_, line)) {
        ++line_;
        current_bytes_ = std::min<uint64_t>(current_bytes_ + line.size() + 1, f.bytes);
        if (line_ == 1 && line.rfind(kBom, 0) == 0) line.erase(0, 3);
        if (is_blank(line)) {
          if (doc.data.empty()) continue;
          break;
        }
        if (doc.data.empty()) doc.where.line = line_;
        doc.data += line;
        doc.data += '\n';
      }
      if (text_.bad()) throw InputError(f.display, line_, "", "read error");
      if (!doc.data.empty()) {
        doc.data.pop_back();
        if (!doc.data.empty() && doc.data.back() == '\r') doc.data.pop_back();
        doc.is_json = false;
        return true;
      }
      text_.close();
    }
    done_bytes_ += f.bytes;
    current_bytes_ = 0;
    open_ = false;
    ++file_;
  }
}

}  // namespace lmforge
