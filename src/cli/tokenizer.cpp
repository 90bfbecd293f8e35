// `lmforge tokenizer train|encode|decode`: option parsing and line-oriented I/O only; the work is
// in the data library (tokenizer.h, tokenizer_train.h).
#include "lmforge/data/tokenizer.h"

#include <charconv>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "lmforge/core/error.h"
#include "lmforge/core/output_guard.h"
#include "lmforge/data/tokenizer_train.h"

namespace lmforge::cli {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f && f != stdin) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr open_input(const std::string& path) {
  if (path.empty() || path == "-") return FilePtr(stdin);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw InputError(path, 0, "", "cannot open the input file");
  return FilePtr(f);
}

// Calls fn(line, ended) for each line without its '\n' (a '\r' before it stays part of the
// line); ended is false for a last line that has no '\n'. getline(3) keeps embedded NUL bytes, so
// binary input round-trips too.
template <class F>
void for_each_line(std::FILE* f, F&& fn) {
  char* buf = nullptr;
  size_t cap = 0;
  ssize_t n;
  while ((n = ::getline(&buf, &cap, f)) >= 0) {
    size_t len = static_cast<size_t>(n);
    const bool ended = len > 0 && buf[len - 1] == '\n';
    if (ended) --len;
    try {
      fn(std::string_view(buf, len), ended);
    } catch (...) {
      std::free(buf);
      throw;
    }
  }
  std::free(buf);
}

void write_out(const std::string& s) {
  if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size())
    throw RuntimeError("cannot write to standard output");
}

struct EncodeArgs {
  std::string tokenizer, input;
  bool add_special = false;
};

void run_encode(const EncodeArgs& a) {
  Tokenizer tok = Tokenizer::load(a.tokenizer);
  FilePtr in = open_input(a.input);
  std::string out;
  std::vector<int32_t> ids;
  for_each_line(in.get(), [&](std::string_view line, bool) {
    ids = a.add_special ? tok.encode_with_special(line) : tok.encode(line);
    char num[16];
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ' ';
      auto r = std::to_chars(num, num + sizeof(num), ids[i]);
      out.append(num, r.ptr);
    }
    out += '\n';
    if (out.size() > (1 << 20)) {
      write_out(out);
      out.clear();
    }
  });
  write_out(out);
}

void run_decode(const EncodeArgs& a) {
  Tokenizer tok = Tokenizer::load(a.tokenizer);
  FilePtr in = open_input(a.input);
  const std::string source = a.input.empty() ? "<stdin>" : a.input;
  std::string out;
  std::vector<int32_t> ids;
  int64_t line_no = 0;
  for_each_line(in.get(), [&](std::string_view line, bool ended) {
    ++line_no;
    ids.clear();
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      if (i >= line.size()) break;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
      int32_t id = -1;
      auto r = std::from_chars(line.data() + i, line.data() + j, id);
      if (r.ec != std::errc() || r.ptr != line.data() + j || id < 0 || id >= tok.vocab_size())
        throw InputError(
            source, line_no, "",
            "'" + std::string(line.substr(i, j - i)) + "' is not a token id of this tokenizer",
            "ids are integers from 0 to " + std::to_string(tok.vocab_size() - 1));
      ids.push_back(id);
      i = j;
    }
    out += tok.decode(ids);
    if (ended) out += '\n';  // as the input: no newline the last line did not have
    if (out.size() > (1 << 20)) {
      write_out(out);
      out.clear();
    }
  });
  write_out(out);
}

struct TrainArgs {
  std::vector<std::string> inputs;
  std::string output, pattern = "gpt2";
  int32_t vocab_size = 8192;
  std::vector<std::string> specials = TokenizerTrainOptions{}.specials;
  int64_t min_frequency = 2;
  int threads = 0;
};

void run_train(const TrainArgs& a) {
  TokenizerTrainOptions o;
  o.vocab_size = a.vocab_size;
  o.pattern = a.pattern == "cl100k" ? SplitPattern::kCl100k : SplitPattern::kGpt2;
  o.specials = a.specials;
  o.min_frequency = a.min_frequency;
  o.threads = a.threads;
  std::vector<std::filesystem::path> inputs(a.inputs.begin(), a.inputs.end());
  std::vector<InputPath> named;
  for (const auto& in : a.inputs) named.push_back({"--input", in});
  const std::filesystem::path out =
      check_output({"--output",
                    a.output,
                    OutputSpec::Kind::kDir,
                    {"tokenizer.json", "tokenizer_config.json"},
                    {},
                    {},
                    "a tokenizer directory of an earlier `lmforge tokenizer train`"},
                   named);
  Tokenizer tok = train_tokenizer(inputs, o);
  tok.save(out);
  if (tok.vocab_size() < a.vocab_size)
    std::fprintf(stderr,
                 "note: stopped at %d tokens (asked for %d): no remaining pair occurs at least "
                 "--min-frequency=%lld times in this corpus\n",
                 tok.vocab_size(), a.vocab_size, static_cast<long long>(a.min_frequency));
  std::fprintf(stderr, "wrote %s/tokenizer.json (%d tokens, hash %s)\n", out.c_str(),
               tok.vocab_size(), tok.content_hash().c_str());
}

void setup(CLI::App& root) {
  CLI::App* group = root.add_subcommand(
      "tokenizer", "Train a byte-level BPE tokenizer, or encode/decode text with one");
  group->require_subcommand(1);

  auto train_args = std::make_shared<TrainArgs>();
  CLI::App* train = add_command(*group, "train",
                                "Train a byte-level BPE tokenizer (writes "
                                "OUTPUT/tokenizer.json + tokenizer_config.json)");
  train
      ->add_option("--input", train_args->inputs,
                   ".txt files (whole file is text), .jsonl files ({\"text\": ...} per line) or "
                   "directories of them")
      ->required();
  train
      ->add_option("--vocab-size", train_args->vocab_size,
                   "vocabulary size including 256 byte tokens and the special tokens")
      ->check(CLI::Range(257, 1 << 20));
  train->add_option("--output", train_args->output, "output directory")->required();
  train->add_option("--pattern", train_args->pattern, "pre-tokenizer split regex")
      ->check(CLI::IsMember({"gpt2", "cl100k"}));
  train->add_option("--special", train_args->specials,
                    "special tokens (<|endoftext|> is always included)");
  train
      ->add_option("--min-frequency", train_args->min_frequency,
                   "never merge a pair seen fewer times than this")
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
  train->add_option("--threads", train_args->threads, "threads for counting (0: all cores)")
      ->check(CLI::Range(0, 1024));
  train->callback([train, train_args] {
    print_resolved_config(*train);
    run_train(*train_args);
  });

  auto enc_args = std::make_shared<EncodeArgs>();
  CLI::App* enc =
      add_command(*group, "encode", "Print one line of space-separated token ids per input line");
  enc->add_option("--tokenizer", enc_args->tokenizer,
                  "directory with tokenizer.json (a model directory too) or GPT-2's encoder.json + "
                  "vocab.bpe")
      ->required();
  enc->add_option("--input", enc_args->input, "input text file (default: standard input)");
  enc->add_flag("--add-special", enc_args->add_special,
                "recognize special-token text such as <|endoftext|> as its id (otherwise it is "
                "encoded as plain text)")
      ->default_str("false");  // so the resolved configuration shows false, not null
  enc->callback([enc, enc_args] {
    print_resolved_config(*enc);
    run_encode(*enc_args);
  });

  auto dec_args = std::make_shared<EncodeArgs>();
  CLI::App* dec =
      add_command(*group, "decode", "Turn each line of space-separated token ids into text");
  dec->add_option("--tokenizer", dec_args->tokenizer,
                  "directory with tokenizer.json (a model directory too) or GPT-2's encoder.json + "
                  "vocab.bpe")
      ->required();
  dec->add_option("--input", dec_args->input, "input file of ids (default: standard input)");
  dec->callback([dec, dec_args] {
    print_resolved_config(*dec);
    run_decode(*dec_args);
  });
}

[[maybe_unused]] const bool registered = register_command(10, setup);

}  // namespace
}  // namespace lmforge::cli
