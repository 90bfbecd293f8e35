// `prepare`: corpus -> tokenized shards + manifest, in parallel over documents (see prepare.h).
// Documents are read in batches on the calling thread; each batch is parsed and tokenized by
// OpenMP threads into per-document vectors, then appended in document order, so the output is
// identical for any thread count.
// Not here: corpus file handling (text_corpus.cpp), the shard format (shard.cpp).
#include "lmforge/data/prepare.h"

#include <omp.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/progress.h"
#include "lmforge/data/tokenizer.h"

namespace lmforge {
namespace fs = std::filesystem;

namespace {
// Big enough that each thread gets many documents per batch (scheduling overhead vanishes),
// small enough that a batch's text and ids stay in the tens of MB.
constexpr size_t kBatchBytes = 8u << 20;
constexpr size_t kBatchDocs = 16384;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Accumulates one split's ids and cuts them into shards of exactly shard_tokens ids (the last
// one shorter). Documents may straddle shards: readers see one continuous stream.
class SplitWriter {
 public:
  SplitWriter(fs::path dir, std::string name, uint64_t shard_tokens, int token_bytes,
              SplitInfo& info)
      : dir_(std::move(dir)),
        name_(std::move(name)),
        shard_tokens_(shard_tokens),
        token_bytes_(token_bytes),
        info_(info) {}

  void add(const std::vector<int32_t>& ids, uint64_t text_bytes) {
    info_.documents += 1;
    info_.bytes += text_bytes;
    buf_.insert(buf_.end(), ids.begin(), ids.end());
    if (buf_.size() >= shard_tokens_) flush_full();
  }
  void finish() {
    if (!buf_.empty()) write(buf_.size());
    buf_.clear();
  }

 private:
  void flush_full() {
    size_t at = 0;
    while (buf_.size() - at >= shard_tokens_) {
      write_at(at, shard_tokens_);
      at += shard_tokens_;
    }
    buf_.erase(buf_.begin(), buf_.begin() + at);
  }
  void write(size_t n) { write_at(0, n); }
  void write_at(size_t at, size_t n) {
    char file[64];
    std::snprintf(file, sizeof file, "%s-%05zu.bin", name_.c_str(), info_.shards.size());
    write_shard(dir_ / file, std::span<const int32_t>(buf_.data() + at, n), token_bytes_);
    info_.shards.push_back({file, n});
    info_.tokens += n;
  }

  fs::path dir_;
  std::string name_;
  uint64_t shard_tokens_;
  int token_bytes_;
  SplitInfo& info_;
  std::vector<int32_t> buf_;
};

void validate(const PrepareOptions& o) {
  if (!(o.val_fraction >= 0.0 && o.val_fraction < 1.0))
    throw UsageError("--val-fraction must be in [0, 1), got " + std::to_string(o.val_fraction));
  if (o.shard_tokens == 0) throw UsageError("--shard-tokens must be at least 1");
  if (o.threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  if (o.inputs.empty()) throw UsageError("no --input given (hint: pass files or directories)");
  if (o.output.empty()) throw UsageError("--output is required");
  if (!fs::is_directory(o.tokenizer_dir))
    throw InputError(o.tokenizer_dir.string(), 0, "",
                     fs::exists(o.tokenizer_dir) ? "tokenizer path is not a directory"
                                                 : "tokenizer directory does not exist",
                     "train one with `lmforge tokenizer train`, or pass a directory holding "
                     "tokenizer.json (a model directory works too)");
  // Replacing the output is atomic, but it is still a replacement: only ever replace a
  // directory that an earlier `prepare` wrote, never someone's unrelated files.
  std::error_code ec;
  if (fs::exists(o.output)) {
    if (!fs::is_directory(o.output))
      throw UsageError("--output '" + o.output.string() +
                       "' exists and is not a directory (hint: choose a new path)");
    if (!fs::is_empty(o.output, ec) && !fs::exists(o.output / "manifest.json"))
      throw UsageError("--output '" + o.output.string() +
                       "' exists and is not a prepared data directory; refusing to replace it "
                       "(hint: choose a new path or remove it)");
  }
}

struct DocResult {
  std::vector<int32_t> ids;  // <|endoftext|> followed by the document's tokens
  uint64_t text_bytes = 0;
  size_t file_index = 0;
  bool empty = false;
  std::exception_ptr error;
};
}  // namespace

bool is_val_document(uint64_t index, uint64_t seed, double val_fraction) {
  const uint64_t h = splitmix64(index ^ splitmix64(seed));
  return static_cast<double>(h >> 11) * 0x1.0p-53 < val_fraction;
}

DataManifest prepare_dataset(const PrepareOptions& o) {
  validate(o);
  std::vector<CorpusFile> files = collect_corpus_files(o.inputs);
  if (files.empty())
    throw UsageError("no .txt, .jsonl or .json files found in the inputs (hint: check --input)");
  Tokenizer tok = Tokenizer::load(o.tokenizer_dir);
  const std::optional<int32_t> eot = tok.special_id("<|endoftext|>");
  if (!eot)
    throw InputError(o.tokenizer_dir.string(), 0, "", "the tokenizer has no <|endoftext|> token",
                     "prepare separates documents with it; train the tokenizer with "
                     "`lmforge tokenizer train`, which adds it");
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();

  DataManifest m;
  m.tokenizer_hash = tok.content_hash();
  m.vocab_size = tok.vocab_size();
  m.eot_id = *eot;
  m.token_bytes = token_bytes_for_vocab(m.vocab_size);
  m.val_fraction = o.val_fraction;
  m.seed = o.seed;
  m.doc_split = doc_split_name(o.doc_split);
  for (const CorpusFile& f : files) m.sources.push_back({f.display, f.bytes, 0});
  uint64_t total_bytes = 0;
  for (const CorpusFile& f : files) total_bytes += f.bytes;

  write_dir_atomic(o.output, [&](const fs::path& dir) {
    SplitWriter train(dir, "train", o.shard_tokens, m.token_bytes, m.train);
    SplitWriter val(dir, "val", o.shard_tokens, m.token_bytes, m.val);
    std::optional<Progress> progress;
    const auto start = std::chrono::steady_clock::now();
    if (o.show_progress)
      progress.emplace("prepare", static_cast<int64_t>((total_bytes + 999999) / 1000000), "MB");

    // The last document is held back: if the hash leaves a split empty, it fills that split.
    DocResult pending;
    bool have_pending = false, pending_val = false;
    uint64_t doc_index = 0;
    auto route = [&](DocResult& r) {
      if (have_pending) (pending_val ? val : train).add(pending.ids, pending.text_bytes);
      std::swap(pending, r);
      pending_val = is_val_document(doc_index, o.seed, o.val_fraction);
      have_pending = true;
      m.sources[pending.file_index].documents += 1;
      ++doc_index;
    };

    DocumentReader reader(files, o.doc_split);
    uint64_t tokens = 0;
    auto rate = [&] {
      const double sec =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double mb = static_cast<double>(reader.bytes_read()) / 1e6;
      char extra[96];
      std::snprintf(extra, sizeof extra, "%.1f MB/s | %s tokens", sec > 0 ? mb / sec : 0.0,
                    Progress::format_count(static_cast<double>(tokens)).c_str());
      return std::string(extra);
    };
    std::vector<RawDocument> raw;
    std::vector<DocResult> results;
    bool more = true;
    while (more) {
      raw.clear();
      size_t batch_bytes = 0;
      RawDocument doc;
      while (batch_bytes < kBatchBytes && raw.size() < kBatchDocs && (more = reader.next(doc))) {
        batch_bytes += doc.data.size();
        raw.push_back(std::move(doc));
      }
      const int64_t n = static_cast<int64_t>(raw.size());
      results.resize(raw.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
      for (int64_t i = 0; i < n; ++i) {
        DocResult& r = results[i];
        r.ids.clear();
        r.error = nullptr;
        r.file_index = raw[i].file_index;
        try {
          std::string text = document_text(std::move(raw[i]));
          r.text_bytes = text.size();
          r.empty = text.empty();
          if (r.empty) continue;
          r.ids.push_back(*eot);
          tok.encode_append(text, r.ids);
        } catch (...) {
          r.error = std::current_exception();  // rethrown below in document order
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        if (results[i].error) std::rethrow_exception(results[i].error);
        if (results[i].empty) continue;
        tokens += results[i].ids.size();
        route(results[i]);
      }
      if (progress) progress->update(static_cast<int64_t>(reader.bytes_read() / 1000000), rate());
    }
    if (!have_pending)
      throw UsageError("no documents found in the inputs (" + std::to_string(files.size()) +
                       " file(s), all empty or blank) (hint: check --input)");
    bool to_val = pending_val;
    if (doc_index == 1) {
      to_val = false;  // a single document is training data; there is nothing to hold out
    } else if (o.val_fraction > 0) {
      if (m.val.documents == 0) to_val = true;
      if (m.train.documents == 0) to_val = false;
    }
    (to_val ? val : train).add(pending.ids, pending.text_bytes);
    train.finish();
    val.finish();
    m.train_tokens = m.train.tokens;
    m.val_tokens = m.val.tokens;
    if (progress) {
      progress->update(static_cast<int64_t>((total_bytes + 999999) / 1000000));
      progress->finish(rate());
    }

    write_manifest(dir, m);
    tok.save(dir);
    if (!o.config_yaml.empty()) write_file_atomic(dir / "config.yaml", o.config_yaml);
  });
  return m;
}

}  // namespace lmforge
