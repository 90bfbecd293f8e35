// `lmforge serve`: an OpenAI-compatible HTTP API over one loaded model (cpp-httplib):
//   GET  /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions
// with stream:true as server-sent events, max_tokens, temperature, top_p, stop, seed, n,
// logprobs (completions: top alternatives; chat: logprobs + top_logprobs), and usage counts;
// extensions top_k, min_p, repetition_penalty. Errors use OpenAI's JSON shape
// {"error":{"message","type","param","code"}} with the matching HTTP status.
// Generation goes through the batching Scheduler (infer/scheduler.h): --parallel slots run in one
// batched decode, further requests wait in its queue. Finished requests leave their KV caches in
// a pool of --cache-slots (infer/prefix_cache.h); a request whose prompt starts like an earlier
// one's (a conversation's next turn) reuses that prefix and reports it in
// usage.prompt_tokens_details.cached_tokens.
// The HTTP limits (body size, request deadline, connections, cross-origin and Host checks) are
// those of serve/http_server.h; docs/SECURITY.md says what they promise.
// Not here: TLS, multiple models, embeddings, tool calls.
#pragma once
#include <string>

#include "lmforge/infer/loaded_model.h"

namespace lmforge {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;   // empty: no authentication; never printed
  int parallel = 4;      // sequences decoded together
  int cache_slots = -1;  // KV caches pooled for prefix reuse; -1: 2 × parallel, 0: none
  int threads = 256;     // connections served at once (a thread each, started on demand)
  size_t max_body_bytes = 4u << 20;  // request body, after decompression; above: 413
  int request_timeout_s = 10;        // to receive a whole request (head and body); after: 408
};

// Serves until SIGINT/SIGTERM. Throws RuntimeError when the address cannot be bound.
void serve_openai(LoadedModel& model, const ServeOptions& opts);

}  // namespace lmforge
