// The HTTP limits both servers take (`serve`, `label`): the options and their ranges, in one
// place. Not here: the limits themselves (serve/http_server.h), each server's other options.
#pragma once
#include <CLI/CLI.hpp>
#include <cstddef>

namespace lmforge::cli {

// Opts: a server's options struct with max_body_bytes, request_timeout_s and threads.
template <class Opts>
void add_http_limit_options(CLI::App& cmd, Opts& o) {
  cmd.add_option("--max-body-bytes", o.max_body_bytes,
                 "largest request body accepted, counted after decompression (gzip, deflate, "
                 "br); larger ones are answered 413")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30));
  cmd.add_option("--request-timeout", o.request_timeout_s,
                 "seconds a client has to send a whole request (head and body); a slower one is "
                 "answered 408 and disconnected")
      ->check(CLI::Range(1, 3600));
  cmd.add_option("--threads", o.threads,
                 "connections served at once, a thread each (started on demand, ended when "
                 "idle); more wait for one to finish")
      ->check(CLI::Range(1, 4096));
}

}  // namespace lmforge::cli
