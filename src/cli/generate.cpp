// `lmforge generate`: continue a prompt, streaming only the generated text to stdout and the
// timing statistics to stderr. Options and printing only; the loop is infer/generate.h.
#include "lmforge/infer/generate.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/sampling_options.h"
#include "lmforge/core/interrupt.h"
#include "lmforge/infer/loaded_model.h"

namespace lmforge::cli {
namespace {

struct Opts {
  std::string model, prompt;
  int max_tokens = 128;
  SamplingParams s;
  std::vector<std::string> stop;
  bool ignore_eos = false;
};

void run(const Opts& o) {
  auto m = LoadedModel::load(o.model);
  GenerateRequest req;
  req.prompt = m->encode_prompt(o.prompt);
  req.max_tokens = o.max_tokens;
  req.sampling = o.s;
  req.stop = o.stop;
  if (!o.ignore_eos) req.stop_ids = m->eos_ids;
  Sequence seq(*m->infer, m->tokenizer, std::move(req));
  install_interrupt_handlers();
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  auto t1 = t0;
  Sequence* one = &seq;
  bool first = true;
  while (!seq.done() && !interrupt_requested()) {
    step(*m->infer, {&one, 1}, [](size_t, const std::string& piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
    if (first) t1 = clock::now(), first = false;  // the first step is the prompt (prefill)
  }
  restore_interrupt_handlers();
  const auto t2 = clock::now();
  std::printf("\n");
  std::fflush(stdout);
  const double prefill = std::chrono::duration<double>(t1 - t0).count();
  const double decode = std::chrono::duration<double>(t2 - t1).count();
  const size_t n = seq.generated().size();
  std::fprintf(stderr,
               "prompt: %d tokens in %.3f s (%.1f tok/s); generated: %zu tokens in %.3f s "
               "(%.1f tok/s); finish: %s\n",
               seq.prompt_tokens(), prefill, seq.prompt_tokens() / std::max(prefill, 1e-9), n,
               decode, n > 1 ? (n - 1) / std::max(decode, 1e-9) : 0.0,
               seq.done() ? finish_reason_name(seq.finish_reason()) : "interrupted");
}

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(root, "generate", "Continue a prompt with the model (streams text)");
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "model directory")->required();
  cmd->add_option("--prompt", o->prompt, "text to continue (empty: from the beginning of text)");
  cmd->add_option("--max-tokens", o->max_tokens, "new tokens at most")->check(CLI::PositiveNumber);
  add_sampling_options(cmd, o->s);
  cmd->add_option("--stop", o->stop, "stop before this text (repeatable)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep going past the end-of-text token");
  cmd->callback([cmd, o] {
    print_resolved_config(*cmd);
    o->s.validate();
    run(*o);
  });
}

const bool registered = register_command(51, setup);

}  // namespace
}  // namespace lmforge::cli
