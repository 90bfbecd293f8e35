// `lmforge eval`: option parsing and printing only; the work is run_eval() (train/evaluate.h).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "lmforge/train/evaluate.h"

namespace lmforge::cli {
namespace {

struct Paths {
  std::string model, data;
  bool json = false;
};

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(root, "eval",
                              "Score a model on held-out text: mean loss (nats/token), "
                              "perplexity and bits per byte");
  auto o = std::make_shared<EvalOptions>();
  auto p = std::make_shared<Paths>();
  cmd->add_option("--model", p->model,
                  "model directory (config.json, model.safetensors, "
                  "tokenizer.json)")
      ->required();
  cmd->add_option("--data", p->data,
                  "a prepared data directory (scores --split) or a UTF-8 text file (tokenized "
                  "with the model's tokenizer)")
      ->required();
  cmd->add_option("--split", o->split, "split of a data directory")
      ->check(CLI::IsMember({"train", "val"}));
  cmd->add_option("--seq-len", o->seq_len,
                  "window length T; each window scores T tokens (0: the model's context)");
  cmd->add_option("--batch-size", o->batch_size, "windows per forward pass");
  cmd->add_option("--max-tokens", o->max_tokens, "score at most this many tokens (0: all)");
  cmd->add_option("--threads", o->threads, "CPU threads (0: OpenMP's default)");
  cmd->add_flag("--json", p->json,
                "print one JSON object {loss, perplexity, bits_per_byte, tokens} on stdout");
  cmd->callback([cmd, o, p] {
    print_resolved_config(*cmd);
    EvalOptions opts = *o;
    opts.model_dir = p->model;
    opts.data = p->data;
    EvalResult r = run_eval(opts);
    if (p->json) {
      nlohmann::ordered_json j = {{"loss", r.loss()},
                                  {"perplexity", r.perplexity()},
                                  {"bits_per_byte", r.bits_per_byte()},
                                  {"tokens", r.tokens}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("loss %.4f nats/token\nperplexity %.3f\nbits per byte %.4f\ntokens %lld\n",
                  r.loss(), r.perplexity(), r.bits_per_byte(), static_cast<long long>(r.tokens));
    }
  });
}

const bool registered = register_command(40, setup);

}  // namespace
}  // namespace lmforge::cli
