// `lmforge label`: the human-feedback web page. Loads prompts (prompts JSONL), samples K answers
// per prompt once with the generation engine (stored in the SQLite database so every labeler
// ranks the same answers), and serves a page plus a JSON API on which labelers rank the answers
// best to worst (drag and drop or keyboard), mark ties or "all bad", and may write a better
// answer. Prompts go least-labelled first, never twice to the same labeler.
//   GET  /                     the page (HTML, CSS and JS built into the binary)
//   GET  /api/next?labeler=N   {"done", "prompt":{"id","text","rendered"},
//                              "answers":[{"id","text"}], "progress"}: the labeler's current
//                              prompt, answers shuffled per labeler (position bias evens out
//                              across labelers). Ids are opaque strings ("p…", "a…": a keyed
//                              hash of the database id), not guessable from one another.
//   POST /api/submit           {"labeler","prompt_id","order":[answer ids, best first],
//                              "ties":[bool per position],"all_bad","better","duration_ms"};
//                              Content-Type application/json, same origin (docs/SECURITY.md)
//   GET  /api/progress[?labeler=N]   labelled/total, rankings, per labeler, agreement
//   GET  /health
// HTTP limits (body size, request deadline, connections, Origin and Host checks) are those of
// serve/http_server.h. Not here: the SQLite schema (label_db.h), reward training, TLS or
// authentication (bind to 127.0.0.1 or a trusted network).
#pragma once
#include <filesystem>
#include <string>

#include "lmforge/infer/loaded_model.h"
#include "lmforge/infer/sampler.h"

namespace lmforge {

struct LabelOptions {
  std::filesystem::path prompts, db;
  std::string host = "127.0.0.1";
  int port = 8081;      // 0: any free port (printed at start)
  int samples = 4;      // answers per prompt (K)
  int max_tokens = 64;  // per answer
  SamplingParams sampling{0.9f, 0, 1.0f, 0.0f, 1.0f, 0};
  std::string chat = "auto";  // "auto" (on when the tokenizer has <|im_start|>), "on", "off"
  int threads = 256;          // connections served at once (a thread each, started on demand)
  size_t max_body_bytes = 1u << 20;  // request body, after decompression; above: 413
  int request_timeout_s = 10;        // to receive a whole request (head and body); after: 408
  size_t max_answer_bytes = 32768;   // a labeler's written answer ("better"); above: 400
  std::string config_yaml;  // the command's resolved configuration, kept in the database's meta
};

// Validates the options and prompts (InputError/UsageError before anything is served), then
// serves until SIGINT/SIGTERM. Throws RuntimeError when the address cannot be bound.
void serve_label(LoadedModel& model, const LabelOptions& opts);

}  // namespace lmforge
