// `lmforge prepare`: option parsing and a summary line only; the work is prepare_dataset()
// in the data library (include/lmforge/data/prepare.h).
#include "lmforge/data/prepare.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "lmforge/core/output_guard.h"

namespace lmforge::cli {
namespace {

struct PrepareArgs {
  std::string tokenizer, output, doc_split = "blank-line";
  std::vector<std::string> inputs;
  double val_fraction = 0.005;
  uint64_t shard_tokens = 100'000'000;
  int threads = 0;
  uint64_t seed = 0;
};

void run(const CLI::App& cmd, const PrepareArgs& a) {
  PrepareOptions o;
  o.tokenizer_dir = a.tokenizer;
  o.inputs.assign(a.inputs.begin(), a.inputs.end());
  std::vector<InputPath> named = {{"--tokenizer", a.tokenizer}};
  for (const auto& in : a.inputs) named.push_back({"--input", in});
  o.output = check_output({"--output",
                           a.output,
                           OutputSpec::Kind::kDir,
                           {"manifest.json", "config.yaml", "train-*.bin", "val-*.bin",
                            "tokenizer.json", "tokenizer_config.json"},
                           {},
                           {},
                           "a data directory of an earlier `lmforge prepare`"},
                          named);
  o.val_fraction = a.val_fraction;
  o.shard_tokens = a.shard_tokens;
  o.threads = a.threads;
  o.seed = a.seed;
  o.doc_split = parse_doc_split(a.doc_split);
  o.config_yaml = resolved_config_yaml(cmd);
  DataManifest m = prepare_dataset(o);
  std::fprintf(stderr,
               "wrote %s: train %llu tokens (%llu documents, %zu shards), val %llu tokens "
               "(%llu documents), %d-byte ids, vocab %d\n",
               a.output.c_str(), static_cast<unsigned long long>(m.train.tokens),
               static_cast<unsigned long long>(m.train.documents), m.train.shards.size(),
               static_cast<unsigned long long>(m.val.tokens),
               static_cast<unsigned long long>(m.val.documents), m.token_bytes, m.vocab_size);
}

void setup(CLI::App& root) {
  auto args = std::make_shared<PrepareArgs>();
  CLI::App* cmd =
      add_command(root, "prepare",
                  "Tokenize text corpora into token shards with a validation split (writes OUTPUT/ "
                  "manifest.json, train-*.bin, val-*.bin and a copy of the tokenizer)");
  cmd->add_option("--tokenizer", args->tokenizer,
                  "directory with tokenizer.json (a model directory too) or GPT-2's encoder.json "
                  "+ vocab.bpe")
      ->required();
  cmd->add_option("--input", args->inputs,
                  ".txt files, .jsonl/.json files ({\"text\": ...} per line), or directories "
                  "searched recursively for them")
      ->required();
  cmd->add_option("--output", args->output,
                  "output directory (written atomically; an earlier prepare output is replaced)")
      ->required();
  cmd->add_option("--val-fraction", args->val_fraction,
                  "fraction of documents held out for validation (chosen by a hash of the "
                  "document index and --seed; at least one when there are two or more documents)")
      ->check(CLI::Range(0.0, 0.999999));
  cmd->add_option("--shard-tokens", args->shard_tokens, "token ids per shard file")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  cmd->add_option("--threads", args->threads, "tokenizer threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--seed", args->seed, "seed of the validation split");
  cmd->add_option("--doc-split", args->doc_split,
                  ".txt documents: separated by blank lines, or one per file")
      ->check(CLI::IsMember({"blank-line", "file"}));
  cmd->callback([cmd, args] {
    print_resolved_config(*cmd);
    run(*cmd, *args);
  });
}

[[maybe_unused]] const bool registered = register_command(20, setup);

}  // namespace
}  // namespace lmforge::cli
