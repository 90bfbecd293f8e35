// `lmforge serve`: options and startup only; the server is serve/openai_server.h.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "lmforge/serve/openai_server.h"

namespace lmforge::cli {
namespace {

struct Opts {
  std::string model;
  ServeOptions s;
};

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(root, "serve",
                              "Serve the model over an OpenAI-compatible HTTP API "
                              "(/v1/models, /v1/completions, /v1/chat/completions, /health)");
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "model directory")->required();
  cmd->add_option("--host", o->s.host, "address to listen on");
  cmd->add_option("--port", o->s.port, "TCP port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->s.api_key,
                  "require 'Authorization: Bearer KEY' on /v1 requests (empty: no key)");
  cmd->add_option("--parallel", o->s.parallel,
                  "sequences generated together in one batch; more requests wait in a queue")
      ->check(CLI::Range(1, 256));
  CLI::Option* cache_slots =
      cmd->add_option("--cache-slots", o->s.cache_slots,
                      "KV caches kept after requests finish, so that a request starting with an "
                      "earlier one's tokens (the next turn of a conversation) skips recomputing "
                      "them; each holds the model's whole context (its size is printed at start). "
                      "Default: 2 x --parallel; 0 disables prefix reuse")
          ->check(CLI::Range(0, 4096))
          ->default_str("2 x --parallel");
  cmd->add_option("--threads", o->s.threads,
                  "HTTP worker threads (open connections served at once)")
      ->check(CLI::Range(1, 1024));
  cmd->callback([cmd, o, cache_slots] {
    if (cache_slots->count() == 0) {
      o->s.cache_slots = 2 * o->s.parallel;
      cache_slots->default_str(std::to_string(o->s.cache_slots));  // the resolved value
    }
    print_resolved_config(*cmd);
    auto m = LoadedModel::load(o->model);
    serve_openai(*m, o->s);
  });
}

const bool registered = register_command(53, setup);

}  // namespace
}  // namespace lmforge::cli
