// `lmforge serve`: options and startup only; the server is serve/openai_server.h.
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/command.h"
#include "cli/http_options.h"
#include "lmforge/core/error.h"
#include "lmforge/serve/openai_server.h"

namespace lmforge::cli {
namespace {

struct Opts {
  std::string model, api_key_file;
  ServeOptions s;
  bool key_on_command_line = false;
};

// The key in a file: its first line, without the line break; an empty one is refused.
std::string read_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, 0, "", "cannot read the API key file", "check --api-key-file");
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty())
    throw InputError(path, 1, "", "the API key file is empty", "write the key on its first line");
  return key;
}

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(root, "serve",
                              "Serve the model over an OpenAI-compatible HTTP API "
                              "(/v1/models, /v1/completions, /v1/chat/completions, /health)");
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "model directory")->required();
  cmd->add_option("--host", o->s.host, "address to listen on");
  cmd->add_option("--port", o->s.port, "TCP port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535));
  // The key itself never reaches the printed configuration: the option keeps "(hidden)".
  cmd->add_option("--api-key",
                  "require 'Authorization: Bearer KEY' on /v1 requests (empty: no key). Also read "
                  "from the environment variable LMFORGE_API_KEY; prefer it or --api-key-file, "
                  "since a command line is visible to other users of the machine")
      ->envname("LMFORGE_API_KEY")
      ->type_name("KEY")
      ->transform(
          [o](std::string key) {
            o->s.api_key = key;
            o->key_on_command_line = true;
            return std::string(key.empty() ? "" : "(hidden)");
          },
          "", "");
  cmd->add_option("--api-key-file", o->api_key_file,
                  "read the API key from the first line of this file (instead of --api-key)");
  add_http_limit_options(*cmd, o->s);
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
  cmd->callback([cmd, o, cache_slots] {
    if (cache_slots->count() == 0) {
      o->s.cache_slots = 2 * o->s.parallel;
      cache_slots->default_str(std::to_string(o->s.cache_slots));  // the resolved value
    }
    if (!o->api_key_file.empty()) {
      if (o->key_on_command_line)
        throw UsageError("give the API key once: --api-key (or LMFORGE_API_KEY) or --api-key-file");
      o->s.api_key = read_key_file(o->api_key_file);
    }
    print_resolved_config(*cmd);
    auto m = LoadedModel::load(o->model);
    serve_openai(*m, o->s);
  });
}

const bool registered = register_command(53, setup);

}  // namespace
}  // namespace lmforge::cli
