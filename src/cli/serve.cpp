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
  cmd->add_option("--threads", o->s.threads,
                  "HTTP worker threads (open connections served at once)")
      ->check(CLI::Range(1, 1024));
  cmd->callback([cmd, o] {
    print_resolved_config(*cmd);
    auto m = LoadedModel::load(o->model);
    serve_openai(*m, o->s);
  });
}

const bool registered = register_command(53, setup);

}  // namespace
}  // namespace lmforge::cli
