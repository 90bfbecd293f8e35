// Tokenizer training front end: reads .txt / JSONL corpora in bounded blocks, counts pre-tokenized
// words on all threads (one map per thread, merged at the end), learns merges (bpe_train.cpp) and
// assembles the Tokenizer. Not here: the merge algorithm itself.
#include "lmforge/data/tokenizer_train.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "data/bpe_train.h"
#include "data/tokenizer_impl.h"
#include "lmforge/core/error.h"
#include "lmforge/core/progress.h"
#include "lmforge/data/byte_level.h"

namespace lmforge {
namespace fs = std::filesystem;

namespace {

// Open-addressing word -> count table with the words' bytes in one arena: counting probes it
// once per piece of the corpus, and a node-based map's pointer chasing made that the top cost.
class CountMap {
 public:
  CountMap() { slots_.assign(1 << 12, Slot{}); }
  void add(std::string_view w, int64_t n) { add_hashed(w, hash_bytes(w), n); }
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.count) f(std::string_view(arena_.data() + s.off, s.len), s.hash, s.count);
  }
  void add_hashed(std::string_view w, uint64_t h, int64_t n) {
    size_t mask = slots_.size() - 1, i = h & mask;
    while (slots_[i].count) {
      const Slot& s = slots_[i];
      if (s.hash == h && s.len == w.size() &&
          std::memcmp(arena_.data() + s.off, w.data(), w.size()) == 0) {
        slots_[i].count += n;
        return;
      }
      i = (i + 1) & mask;
    }
    slots_[i] = Slot{h, arena_.size(), static_cast<uint32_t>(w.size()), n};
    arena_.append(w);
    if (++size_ * 2 > slots_.size()) grow();
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint64_t off = 0;
    uint32_t len = 0;
    int64_t count = 0;  // 0 marks an empty slot
  };
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (!s.count) continue;
      size_t i = s.hash & mask;
      while (slots_[i].count) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
};

// Counting state: one map per thread; a batch holds independent texts (each is pre-tokenized on
// its own, so a batch may mix documents and pieces of one big file cut at safe points).
class WordCounter {
 public:
  WordCounter(const PreTokenizer& pt, int threads)
      : pt_(pt), threads_(threads), maps_(static_cast<size_t>(threads)) {}

  void add(std::string text) {
    pending_bytes_ += text.size();
    batch_.push_back(std::move(text));
    if (pending_bytes_ >= kBatchBytes) flush();
  }

  void flush() {
    const int64_t n = static_cast<int64_t>(batch_.size());
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
    for (int64_t i = 0; i < n; ++i) {
      CountMap& m = maps_[omp_get_thread_num()];
      pt_.for_each(batch_[i], [&](std::string_view p) {
        if (p.size() >= 2) m.add(p, 1);  // single bytes never take part in a merge
      });
    }
    batch_.clear();
    pending_bytes_ = 0;
  }

  // Distinct words sorted by bytes (so the result never depends on hashing or thread timing).
  void take(std::vector<std::string>& words, std::vector<int64_t>& counts) {
    flush();
    CountMap& total = maps_[0];
    for (size_t t = 1; t < maps_.size(); ++t) {
      maps_[t].for_each(
          [&](std::string_view w, uint64_t h, int64_t c) { total.add_hashed(w, h, c); });
      maps_[t] = CountMap();
    }
    std::vector<std::pair<std::string, int64_t>> all;
    all.reserve(total.size());
    total.for_each([&](std::string_view w, uint64_t, int64_t c) { all.emplace_back(w, c); });
    total = CountMap();
    std::sort(all.begin(), all.end());
    words.reserve(all.size());
    counts.reserve(all.size());
    for (auto& [w, c] : all) {
      words.push_back(std::move(w));
      counts.push_back(c);
    }
  }

 private:
  // Texts are cut into pieces of about kPieceBytes; a batch of ~8 pieces per thread keeps both
  // cores busy while bounding memory to a few MB beyond the word maps.
  static constexpr size_t kBatchBytes = 16u << 20;
  const PreTokenizer& pt_;
  int threads_;
  std::vector<CountMap> maps_;
  std::vector<std::string> batch_;
  size_t pending_bytes_ = 0;
};

constexpr size_t kPieceBytes = 1u << 20;

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Last position p in (0, s.size()) where s[p-1] is '\n' and s[p] an ASCII letter or digit: no
// match of the GPT-2 or cl100k regex crosses such a point, so cutting there changes no piece.
size_t safe_cut(std::string_view s) {
  for (size_t p = s.size() - 1; p > 0; --p)
    if (s[p - 1] == '\n' && is_ascii_alnum(s[p])) return p;
  return 0;
}

void read_txt(const fs::path& path, WordCounter& counter, Progress* bar, int64_t& done) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw InputError(path.string(), 0, "", "cannot open the input file");
  std::string carry, buf(kPieceBytes, '\0');
  while (true) {
    size_t n = std::fread(buf.data(), 1, buf.size(), f);
    carry.append(buf.data(), n);
    done += static_cast<int64_t>(n);
    if (bar) bar->update(done);
    if (n == 0) break;
    if (carry.size() < kPieceBytes) continue;
    size_t cut = safe_cut(carry);
    if (cut == 0) continue;  // no safe point yet: keep reading
    counter.add(carry.substr(0, cut));
    carry.erase(0, cut);
  }
  bool err = std::ferror(f);
  std::fclose(f);
  if (err) throw InputError(path.string(), 0, "", "read error");
  if (!carry.empty()) counter.add(std::move(carry));
}

void read_jsonl(const fs::path& path, WordCounter& counter, Progress* bar, int64_t& done) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw InputError(path.string(), 0, "", "cannot open the input file");
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n;
  int64_t line_no = 0;
  try {
    while ((n = ::getline(&line, &cap, f)) >= 0) {
      ++line_no;
      done += n;
      std::string_view sv(line, static_cast<size_t>(n));
      if (sv.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(sv);
      } catch (const nlohmann::json::parse_error&) {
        throw InputError(path.string(), line_no, "", "not valid JSON",
                         "each line must be one JSON object such as {\"text\": \"...\"}");
      }
      if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
        throw InputError(path.string(), line_no, "text", "missing or not a string");
      counter.add(j["text"].get<std::string>());
      if (bar && line_no % 4096 == 0) bar->update(done);
    }
  } catch (...) {
    std::free(line);
    std::fclose(f);
    throw;
  }
  std::free(line);
  std::fclose(f);
}

bool is_jsonl(const fs::path& p) {
  return p.extension() == ".jsonl" || p.extension() == ".json";
}

std::vector<fs::path> expand_inputs(const std::vector<fs::path>& inputs) {
  std::vector<fs::path> files;
  for (const fs::path& p : inputs) {
    if (fs::is_directory(p)) {
      std::vector<fs::path> in_dir;
      for (const auto& e : fs::directory_iterator(p)) {
        if (e.is_regular_file() && (e.path().extension() == ".txt" || is_jsonl(e.path())))
          in_dir.push_back(e.path());
      }
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(p)) {
      // As `prepare` does: a shard (.bin) or any other file is not text to learn merges from.
      if (p.extension() != ".txt" && !is_jsonl(p))
        throw InputError(p.string(), 0, "", "unsupported input file type",
                         "expected .txt (plain text) or .jsonl/.json ({\"text\": ...} per line)");
      files.push_back(p);
    } else {
      throw InputError(p.string(), 0, "", "no such file or directory");
    }
  }
  if (files.empty()) throw UsageError("no training input: give --input files or directories");
  return files;
}

std::vector<std::string> full_specials(const TokenizerTrainOptions& o) {
  std::vector<std::string> s = {"<|endoftext|>"};
  for (const auto& t : o.specials) {
    if (t.empty()) throw UsageError("a special token cannot be empty");
    for (size_t i = 0; i < t.size();) {
      int len = utf8_valid_length(t, i);
      if (len == 0) throw UsageError("special token '" + t + "' is not valid UTF-8");
      i += len;
    }
    if (std::find(s.begin(), s.end(), t) == s.end()) s.push_back(t);
  }
  return s;
}

int resolve_threads(int t) {
  return t > 0 ? t : std::max(1, omp_get_max_threads());
}

Tokenizer assemble(const std::vector<std::string>& words, const std::vector<int64_t>& counts,
                   const TokenizerTrainOptions& o, const std::vector<std::string>& specials,
                   const std::string& regex) {
  const int64_t n_merges = int64_t{o.vocab_size} - 256 - static_cast<int64_t>(specials.size());
  auto merges = learn_bpe_merges(words, counts, n_merges, o.min_frequency, o.progress);
  auto impl = std::make_unique<Tokenizer::Impl>();
  const auto& order = byte_level_order();
  for (int i = 0; i < 256; ++i) impl->vocab.emplace_back(1, static_cast<char>(order[i]));
  for (size_t r = 0; r < merges.size(); ++r) {
    impl->vocab.push_back(impl->vocab[merges[r].first] + impl->vocab[merges[r].second]);
    impl->merged_ids.push_back(static_cast<int32_t>(256 + r));
  }
  impl->merges = std::move(merges);
  for (const auto& s : specials) {
    impl->specials.emplace_back(s, static_cast<int32_t>(impl->vocab.size()));
    impl->vocab.push_back(s);
  }
  impl->pretokenizer = PreTokenizer(regex);
  impl->finalize("<trained>");
  return Tokenizer(std::move(impl));
}

void check_options(const TokenizerTrainOptions& o, const std::vector<std::string>& specials) {
  if (o.vocab_size < 256 + static_cast<int64_t>(specials.size()))
    throw UsageError("--vocab-size " + std::to_string(o.vocab_size) + " is too small: it needs " +
                     std::to_string(256 + specials.size()) +
                     " for the 256 byte tokens and the special tokens");
}

const char* regex_of(SplitPattern p) {
  return p == SplitPattern::kCl100k ? kCl100kSplitRegex : kGpt2SplitRegex;
}

}  // namespace

Tokenizer train_tokenizer(const std::vector<fs::path>& inputs, const TokenizerTrainOptions& o) {
  const auto specials = full_specials(o);
  check_options(o, specials);
  const auto files = expand_inputs(inputs);
  int64_t total = 0;
  for (const auto& f : files) total += static_cast<int64_t>(fs::file_size(f));
  PreTokenizer pt(regex_of(o.pattern));
  WordCounter counter(pt, resolve_threads(o.threads));
  std::vector<std::string> words;
  std::vector<int64_t> counts;
  {
    std::optional<Progress> bar;
    if (o.progress) bar.emplace("count words", total, "B");
    int64_t done = 0;
    for (const auto& f : files) {
      if (is_jsonl(f)) {
        read_jsonl(f, counter, bar ? &*bar : nullptr, done);
      } else {
        read_txt(f, counter, bar ? &*bar : nullptr, done);
      }
    }
    counter.take(words, counts);
    if (words.empty())
      throw InputError(
          files.size() == 1 ? files[0].string() : inputs[0].string(), 0, "",
          "the training input holds no text" +
              (files.size() > 1 ? " (" + std::to_string(files.size()) + " files)" : std::string()),
          "a tokenizer learns its merges from text: give a non-empty corpus");
    if (bar)
      bar->finish(Progress::format_count(static_cast<double>(words.size())) + " distinct words");
  }
  return assemble(words, counts, o, specials, regex_of(o.pattern));
}

Tokenizer train_tokenizer_from_texts(const std::vector<std::string>& texts,
                                     const TokenizerTrainOptions& o) {
  const auto specials = full_specials(o);
  check_options(o, specials);
  PreTokenizer pt(regex_of(o.pattern));
  WordCounter counter(pt, resolve_threads(o.threads));
  for (const auto& t : texts) counter.add(t);
  std::vector<std::string> words;
  std::vector<int64_t> counts;
  counter.take(words, counts);
  return assemble(words, counts, o, specials, regex_of(o.pattern));
}

}  // namespace lmforge
