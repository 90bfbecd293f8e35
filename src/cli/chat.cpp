// `lmforge chat`: an interactive conversation in the terminal. Reads one message per line from
// standard input (so it also works from a pipe), streams each reply to standard output; /reset
// forgets the conversation, /exit (or end of input) quits. The conversation logic is
// infer/chat_session.h.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/sampling_options.h"
#include "lmforge/infer/chat_session.h"

namespace lmforge::cli {
namespace {

struct Opts {
  std::string model, system;
  int max_tokens = 256;
  SamplingParams s;
};

void run(const Opts& o) {
  auto m = LoadedModel::load(o.model);
  ChatSession chat(*m, o.system, o.max_tokens, o.s);
  const bool tty = isatty(0) && isatty(1);
  std::fprintf(stderr, "chatting with '%s' (context %d tokens). /reset forgets, /exit quits.\n",
               m->name.c_str(), m->model.config().n_ctx);
  std::string line;
  for (;;) {
    if (tty) std::printf("\n> "), std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      chat.reset();
      std::fprintf(stderr, "[conversation reset]\n");
      continue;
    }
    if (line.empty()) continue;
    auto r = chat.send(
        line,
        [](const std::string& piece) {
          std::fwrite(piece.data(), 1, piece.size(), stdout);
          std::fflush(stdout);
        },
        [](const std::string& notice) { std::fprintf(stderr, "%s\n", notice.c_str()); });
    if (r.finish != FinishReason::kNone) {
      std::printf("\n");
      std::fflush(stdout);
      std::fprintf(stderr, "[%d prompt tokens, %d reused from the cache; %d generated; %s]\n",
                   r.prompt_tokens, r.reused_tokens, r.generated_tokens,
                   finish_reason_name(r.finish));
    }
  }
}

void setup(CLI::App& root) {
  CLI::App* cmd =
      add_command(root, "chat", "Talk with the model in the terminal (its chat template)");
  auto o = std::make_shared<Opts>();
  o->s.temperature = 0.7f;
  cmd->add_option("--model", o->model, "model directory")->required();
  cmd->add_option("--system", o->system, "system message that opens the conversation");
  cmd->add_option("--max-tokens", o->max_tokens, "longest reply in tokens")
      ->check(CLI::PositiveNumber);
  add_sampling_options(cmd, o->s);
  cmd->callback([cmd, o] {
    print_resolved_config(*cmd);
    o->s.validate();
    run(*o);
  });
}

const bool registered = register_command(52, setup);

}  // namespace
}  // namespace lmforge::cli
