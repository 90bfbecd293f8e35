// The OpenAI-compatible HTTP layer: request validation and JSON in, the Scheduler's text out.
// Each HTTP worker thread parses and validates its request, tokenizes it (in parallel with the
// batch), submits one Job per choice and then only waits on its own Jobs; the scheduler thread
// alone runs the model and gives each job a KV cache that may already hold a prefix of its
// prompt (usage.prompt_tokens_details.cached_tokens counts those tokens). A streaming client that
// goes away makes the next write fail, which cancels its jobs and frees their slots.
#include "lmforge/serve/openai_server.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "lmforge/backend/isa.h"
#include "lmforge/core/error.h"
#include "lmforge/core/interrupt.h"
#include "lmforge/data/chat_render.h"
#include "lmforge/infer/scheduler.h"
#include "serve/http_server.h"
#include "serve/json_fields.h"

namespace lmforge {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

struct ApiError {
  int status;
  std::string message, param, code, type = "invalid_request_error";
};

std::string dump(const ojson& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_error(httplib::Response& res, const ApiError& e) {
  ojson err = {{"message", e.message},
               {"type", e.type},
               {"param", e.param.empty() ? ojson(nullptr) : ojson(e.param)},
               {"code", e.code.empty() ? ojson(nullptr) : ojson(e.code)}};
  res.status = e.status;
  res.set_content(dump({{"error", err}}), "application/json");
}

ApiError bad(const std::string& param, const std::string& msg) {
  return {400, msg, param, ""};
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string new_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%llx%06llx", prefix, (unsigned long long)now_s(),
                (unsigned long long)(counter++ & 0xFFFFFF));
  return buf;
}

// Typed getters that turn a wrong type into a 400 naming the parameter.
template <typename T>
T get_or(const json& b, const char* key, T dflt) {
  if (!b.contains(key) || b[key].is_null()) return dflt;
  try {
    return b[key].get<T>();
  } catch (const json::exception&) {
    throw bad(key, std::string("Invalid type for '") + key + "'.");
  }
}

// What the client sent, short enough for an error message.
std::string shown(const json& v) {
  std::string s = dump(v);
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// An integer field in [lo, hi] (absent or null: dflt). A fraction or a value out of range is a
// 400 naming the field, never truncated or wrapped.
int64_t int_field(const json& b, const char* key, int64_t dflt, int64_t lo, int64_t hi) {
  if (!b.contains(key) || b[key].is_null()) return dflt;
  if (auto v = json_integer(b[key], lo, hi)) return *v;
  throw bad(key, std::string("'") + key + "' must be an integer from " + std::to_string(lo) +
                     " to " + std::to_string(hi) + " (got " + shown(b[key]) + ").");
}

// A number field in [lo, hi] (absent or null: dflt).
float real_field(const json& b, const char* key, float dflt, double lo, double hi) {
  if (!b.contains(key) || b[key].is_null()) return dflt;
  if (auto v = json_real(b[key], lo, hi)) return static_cast<float>(*v);
  char range[64];
  std::snprintf(range, sizeof range, "from %g to %g", lo, hi);
  throw bad(key, std::string("'") + key + "' must be a number " + range + " (got " + shown(b[key]) +
                     ").");
}

constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();

// Everything a completion or chat request shares.
struct Common {
  int max_tokens = -1;  // -1: until the context ends
  SamplingParams s;
  bool seeded = false;
  std::vector<std::string> stop;
  int n = 1;
  int top_logprobs = -1;
  bool stream = false, include_usage = false;
  bool strip_reply_space = false;  // the template put a space before the reply (ChatML)
};

Common parse_common(const json& b, const LoadedModel& m, bool chat) {
  if (!b.contains("model") || !b["model"].is_string())
    throw bad("model", "you must provide a model parameter");
  const std::string model = b["model"];
  if (model != m.name)
    throw ApiError{404,
                   "The model `" + model + "` does not exist. This server serves `" + m.name + "`.",
                   "model", "model_not_found"};
  Common c;
  c.max_tokens = (int)int_field(b, "max_tokens", chat ? -1 : 16, 1, kIntMax);
  if (chat) c.max_tokens = (int)int_field(b, "max_completion_tokens", c.max_tokens, 1, kIntMax);
  c.s.temperature = real_field(b, "temperature", 1.0f, 0.0, 2.0);
  c.s.top_p = real_field(b, "top_p", 1.0f, 0.0, 1.0);
  if (!(c.s.top_p > 0.0f)) throw bad("top_p", "'top_p' must be above 0 and at most 1.");
  c.s.top_k = (int)int_field(b, "top_k", 0, 0, kIntMax);
  c.s.min_p = real_field(b, "min_p", 0.0f, 0.0, 1.0);
  c.s.repetition_penalty = real_field(b, "repetition_penalty", 1.0f, 0.0, 1e6);
  try {
    c.s.validate();
  } catch (const UsageError& e) {
    throw bad("", e.what());
  }
  if (b.contains("seed") && !b["seed"].is_null()) {
    const json& s = b["seed"];  // any 64-bit integer, signed or not
    if (s.is_number_unsigned())
      c.s.seed = s.get<uint64_t>();
    else
      c.s.seed = (uint64_t)int_field(b, "seed", 0, std::numeric_limits<int64_t>::min(),
                                     std::numeric_limits<int64_t>::max());
    c.seeded = true;
  }
  c.n = (int)int_field(b, "n", 1, 1, 16);
  if (b.contains("stop") && !b["stop"].is_null()) {
    const json& s = b["stop"];
    if (s.is_string()) {
      c.stop.push_back(s);
    } else if (s.is_array() && s.size() <= 4) {
      for (const auto& x : s) {
        if (!x.is_string()) throw bad("stop", "stop must be a string or an array of strings.");
        if (!x.get<std::string>().empty()) c.stop.push_back(x);
      }
    } else {
      throw bad("stop", "stop must be a string or an array of at most 4 strings.");
    }
  }
  if (chat) {
    if (get_or<bool>(b, "logprobs", false))
      c.top_logprobs = (int)int_field(b, "top_logprobs", 0, 0, 20);
  } else {
    c.top_logprobs = (int)int_field(b, "logprobs", -1, 0, 5);
  }
  c.stream = get_or<bool>(b, "stream", false);
  if (b.contains("stream_options") && b["stream_options"].is_object())
    c.include_usage = get_or<bool>(b["stream_options"], "include_usage", false);
  return c;
}

std::vector<ChatMessage> parse_messages(const json& b) {
  if (!b.contains("messages")) throw bad("messages", "Missing required parameter: 'messages'.");
  if (!b["messages"].is_array() || b["messages"].empty())
    throw bad("messages", "'messages' must be a non-empty array.");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < b["messages"].size(); ++i) {
    const json& m = b["messages"][i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      throw bad(where + ".role", "Missing required parameter: '" + where + ".role'.");
    ChatMessage msg{m["role"], ""};
    if (msg.role == "developer") msg.role = "system";
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant")
      throw bad(where + ".role", "Unsupported role '" + msg.role + "'.");
    const json c = m.value("content", json());
    if (c.is_string()) {
      msg.content = c;
    } else if (c.is_array()) {  // content parts: text only
      for (size_t j = 0; j < c.size(); ++j) {
        const json& part = c[j];
        const std::string at = where + ".content[" + std::to_string(j) + "]";
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
          throw bad(at + ".type", "Each content part must be an object with a string 'type'.");
        if (part["type"] != "text")
          throw bad(at + ".type", "Only text content parts are supported.");
        if (!part.contains("text") || !part["text"].is_string())
          throw bad(at + ".text", "'" + at + ".text' must be a string.");
        msg.content += part["text"].get<std::string>();
      }
    } else if (!c.is_null()) {
      throw bad(where + ".content", "'content' must be a string or an array of text parts.");
    }
    out.push_back(std::move(msg));
  }
  return out;
}

class Api {
 public:
  Api(LoadedModel& m, const ServeOptions& o)
      : m_(m), opts_(o), sched_(*m.infer, m.tokenizer, scheduler_options(m, o)) {}

  static SchedulerOptions scheduler_options(const LoadedModel& m, const ServeOptions& o) {
    SchedulerOptions s;
    s.slots = o.parallel;
    s.cache_slots = o.cache_slots < 0 ? 2 * o.parallel : o.cache_slots;
    s.cache_capacity = m.model.config().n_ctx;  // one capacity: any cache serves any prompt
    return s;
  }
  const Scheduler& scheduler() const { return sched_; }

  void models(httplib::Response& res) {
    ojson model = {
        {"id", m_.name}, {"object", "model"}, {"created", started_}, {"owned_by", "lmforge"}};
    res.set_content(dump({{"object", "list"}, {"data", ojson::array({model})}}),
                    "application/json");
  }

  void health(httplib::Response& res) {
    const PrefixCacheStats c = sched_.cache_stats();
    ojson cache = {{"slots", c.slots},
                   {"pooled", c.pooled},
                   {"bytes_per_cache", c.bytes_per_cache},
                   {"lookups", c.lookups},
                   {"hits", c.hits},
                   {"cached_tokens", c.reused_tokens},
                   {"prompt_tokens", c.prompt_tokens}};
    res.set_content(dump({{"status", "ok"},
                          {"slots", sched_.slots()},
                          {"active", sched_.active()},
                          {"queued", sched_.queued()},
                          {"cancelled", sched_.cancelled_total()},
                          {"prefix_cache", cache},
                          {"precision", backend::precision_name(backend::precision())},
                          {"backend", backend::backend_summary()}}),
                    "application/json");
  }

  void generate(const std::string& body, httplib::Response& res, bool chat) {
    json b;
    try {
      b = json::parse(body);
    } catch (const json::exception&) {
      throw bad("",
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly.)");
    }
    if (!b.is_object()) throw bad("", "The request body must be a JSON object.");
    Common c = parse_common(b, m_, chat);
    std::vector<int32_t> prompt;
    std::vector<int32_t> stop_ids = m_.eos_ids;
    if (chat) {
      ChatTemplate t;
      try {
        t = m_.chat_template();
      } catch (const std::exception& e) {
        throw ApiError{400, e.what(), "messages", "unsupported_chat_template"};
      }
      try {
        prompt = t.encode(m_.tokenizer, parse_messages(b), true);
      } catch (const InputError& e) {  // the template failed on these messages: a client error
        throw ApiError{400, e.what(), "messages", "invalid_request_error"};
      }
      for (int32_t id : t.stop_ids(m_.tokenizer)) stop_ids.push_back(id);
      c.stop.push_back(t.end_of_turn());  // when im_end is not a special token
      c.strip_reply_space = t.reply_has_prefix_space();
    } else {
      if (!b.contains("prompt")) throw bad("prompt", "Missing required parameter: 'prompt'.");
      const json& p = b["prompt"];
      if (p.is_string()) {
        prompt = m_.encode_prompt(p.get<std::string>());
      } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
        prompt = m_.encode_prompt(p[0].get<std::string>());
      } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
        for (const auto& x : p) {
          if (!x.is_number_integer() || x.get<int64_t>() < 0 ||
              x.get<int64_t>() >= m_.model.config().vocab_size)
            throw bad("prompt", "prompt token ids must be integers inside the vocabulary.");
          prompt.push_back(x.get<int32_t>());
        }
      } else {
        throw bad(
            "prompt",
            "prompt must be a string, a one-element array of strings, or an array of token ids.");
      }
    }
    const int n_ctx = m_.model.config().n_ctx, P = (int)prompt.size();
    if (P >= n_ctx)
      throw ApiError{400,
                     "This model's maximum context length is " + std::to_string(n_ctx) +
                         " tokens. However, your " + (chat ? "messages" : "prompt") +
                         " resulted in " + std::to_string(P) + " tokens.",
                     chat ? "messages" : "prompt", "context_length_exceeded"};
    std::vector<std::shared_ptr<Job>> jobs;
    const uint64_t seed = c.seeded ? c.s.seed : std::random_device{}();
    for (int i = 0; i < c.n; ++i) {
      GenerateRequest g;
      g.prompt = prompt;
      g.max_tokens = c.max_tokens < 0 ? n_ctx - P : c.max_tokens;
      g.sampling = c.s;
      g.sampling.seed = seed + i;
      g.stop = c.stop;
      g.stop_ids = stop_ids;
      g.top_logprobs = c.top_logprobs;
      jobs.push_back(std::make_shared<Job>(std::move(g)));
    }
    for (auto& j : jobs) sched_.submit(j);
    const std::string id = new_id(chat ? "chatcmpl" : "cmpl");
    if (c.stream)
      stream(res, jobs, c, chat, id);
    else
      respond(res, jobs, chat, c.strip_reply_space, id);
  }

 private:
  // The prompt is counted once for n choices (as OpenAI does), and so are its cached tokens: those
  // of the first choice (the others may find less in the pool, having been admitted together).
  ojson usage(const std::vector<std::shared_ptr<Job>>& jobs) const {
    int64_t completion = 0;
    for (auto& j : jobs) completion += (int64_t)j->sequence().generated().size();
    const int64_t prompt = jobs[0]->sequence().prompt_tokens();
    const int64_t cached = jobs[0]->sequence().cached_prompt_tokens();
    return {{"prompt_tokens", prompt},
            {"completion_tokens", completion},
            {"total_tokens", prompt + completion},
            {"prompt_tokens_details", {{"cached_tokens", cached}}}};
  }

  static ApiError job_error(const Job& j) {
    return {500, "the request did not run: " + j.error(), "", "", "server_error"};
  }

  ojson completion_logprobs(const Sequence& s) const {
    ojson toks = ojson::array(), lps = ojson::array(), tops = ojson::array(), offs = ojson::array();
    size_t off = 0;
    for (const TokenLogprob& t : s.logprobs()) {
      const std::string& text = m_.tokenizer.token_bytes(t.id);
      toks.push_back(text);
      lps.push_back(t.logprob);
      ojson top = ojson::object();
      for (auto& [id, lp] : t.top) top[m_.tokenizer.token_bytes(id)] = lp;
      tops.push_back(top);
      offs.push_back(off);
      off += text.size();
    }
    return {
        {"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
  }

  ojson chat_logprobs(const Sequence& s) const {
    auto entry = [&](int32_t id, double lp) {
      const std::string& text = m_.tokenizer.token_bytes(id);
      ojson bytes = ojson::array();
      for (unsigned char ch : text) bytes.push_back((int)ch);
      return ojson{{"token", text}, {"logprob", lp}, {"bytes", bytes}};
    };
    ojson content = ojson::array();
    for (const TokenLogprob& t : s.logprobs()) {
      ojson e = entry(t.id, t.logprob);
      ojson top = ojson::array();
      for (auto& [id, lp] : t.top) top.push_back(entry(id, lp));
      e["top_logprobs"] = top;
      content.push_back(e);
    }
    return {{"content", content}, {"refusal", nullptr}};
  }

  void respond(httplib::Response& res, const std::vector<std::shared_ptr<Job>>& jobs, bool chat,
               bool strip_reply_space, const std::string& id) {
    ojson choices = ojson::array();
    for (auto& j : jobs) j->wait_done();
    for (auto& j : jobs)
      if (!j->error().empty()) throw job_error(*j);
    for (size_t i = 0; i < jobs.size(); ++i) {
      const Sequence& s = jobs[i]->sequence();
      const bool lp = s.request().top_logprobs >= 0;
      ojson ch = {{"index", i}};
      if (chat) {
        const std::string text = strip_reply_space ? strip_reply_prefix(s.text()) : s.text();
        ch["message"] = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
        ch["logprobs"] = lp ? chat_logprobs(s) : ojson(nullptr);
      } else {
        ch["text"] = s.text();
        ch["logprobs"] = lp ? completion_logprobs(s) : ojson(nullptr);
      }
      ch["finish_reason"] = finish_reason_name(s.finish_reason());
      choices.push_back(ch);
    }
    ojson out = {{"id", id},           {"object", chat ? "chat.completion" : "text_completion"},
                 {"created", now_s()}, {"model", m_.name},
                 {"choices", choices}, {"usage", usage(jobs)}};
    res.set_content(dump(out), "application/json");
  }

  void stream(httplib::Response& res, std::vector<std::shared_ptr<Job>> jobs, const Common& c,
              bool chat, const std::string& id) {
    struct State {
      std::vector<std::shared_ptr<Job>> jobs;
      std::vector<bool> done;
      bool started = false;
      std::vector<bool> strip;  // the reply's first text still carries the template's space
    };
    auto st = std::make_shared<State>(State{std::move(jobs), {}, false, {}});
    st->done.assign(st->jobs.size(), false);
    st->strip.assign(st->jobs.size(), c.strip_reply_space);
    const int64_t created = now_s();
    auto chunk = [=, this](size_t i, const std::string& text, const char* finish) {
      ojson ch = {{"index", i}};
      if (chat) {
        ch["delta"] = finish ? ojson::object() : ojson{{"content", text}};
        if (!st->started) ch["delta"]["role"] = "assistant";
      } else {
        ch["text"] = text;
      }
      ch["logprobs"] = nullptr;
      ch["finish_reason"] = finish ? ojson(finish) : ojson(nullptr);
      ojson out = {{"id", id},
                   {"object", chat ? "chat.completion.chunk" : "text_completion"},
                   {"created", created},
                   {"model", m_.name},
                   {"choices", ojson::array({ch})}};
      return "data: " + dump(out) + "\n\n";
    };
    const bool include_usage = c.include_usage;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [=, this](size_t, httplib::DataSink& sink) {
          std::string out;
          if (!st->started) {
            for (size_t i = 0; i < st->jobs.size() && chat; ++i) out += chunk(i, "", nullptr);
            st->started = true;
          }
          bool all_done = true;
          const int wait_ms = st->jobs.size() == 1 ? 500 : 20;
          for (size_t i = 0; i < st->jobs.size(); ++i) {
            if (st->done[i]) continue;
            std::string text;
            const bool more = st->jobs[i]->wait_text(&text, wait_ms);
            if (st->strip[i] && !text.empty()) {
              text = strip_reply_prefix(text);
              st->strip[i] = false;
            }
            if (!text.empty()) out += chunk(i, text, nullptr);
            if (!more && !st->jobs[i]->error().empty()) {
              // It never ran (the server is stopping, or its Sequence refused the request):
              // an error event, then the stream ends.
              const ApiError e = job_error(*st->jobs[i]);
              out += "data: " +
                     dump({{"error",
                            {{"message", e.message},
                             {"type", e.type},
                             {"param", nullptr},
                             {"code", nullptr}}}}) +
                     "\n\ndata: [DONE]\n\n";
              for (auto& j : st->jobs) j->cancel();
              sink.write(out.data(), out.size());
              sink.done();
              return true;
            }
            if (!more) {
              st->done[i] = true;
              out += chunk(i, "", finish_reason_name(st->jobs[i]->sequence().finish_reason()));
            } else {
              all_done = false;
            }
          }
          if (all_done) {
            if (include_usage) {
              ojson u = {{"id", id},
                         {"object", chat ? "chat.completion.chunk" : "text_completion"},
                         {"created", created},
                         {"model", m_.name},
                         {"choices", ojson::array()},
                         {"usage", usage(st->jobs)}};
              out += "data: " + dump(u) + "\n\n";
            }
            out += "data: [DONE]\n\n";
          }
          if (!out.empty() && !sink.write(out.data(), out.size())) {
            for (auto& j : st->jobs) j->cancel();  // the client went away: free the slots
            return false;
          }
          if (all_done) sink.done();
          return true;
        },
        [st](bool success) {
          if (!success)
            for (auto& j : st->jobs) j->cancel();
        });
  }

  LoadedModel& m_;
  ServeOptions opts_;
  Scheduler sched_;
  int64_t started_ = now_s();
};

}  // namespace

void serve_openai(LoadedModel& model, const ServeOptions& opts) {
  Api api(model, opts);
  HttpLimits limits;
  limits.max_body_bytes = opts.max_body_bytes;
  limits.request_timeout_s = opts.request_timeout_s;
  limits.max_connections = std::max(opts.threads, opts.parallel + 4);
  HttpServer svr(limits, [](httplib::Response& res, int status, const std::string& message,
                            const std::string& code) {
    send_error(res, {status, message, "", code});
  });
  auto guarded = [](auto fn) {
    return [fn](const httplib::Request& req, httplib::Response& res, const std::string& body) {
      try {
        fn(req, res, body);
      } catch (const ApiError& e) {
        send_error(res, e);
      } catch (const UsageError& e) {
        send_error(res, bad("", e.what()));
      } catch (const std::exception& e) {
        send_error(res, {500, e.what(), "", "", "server_error"});
      }
    };
  };
  const std::string key = opts.api_key;
  svr.set_guard([key](const httplib::Request& req, httplib::Response& res) {
    if (key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    if (bearer_token_matches(req.get_header_value("Authorization"), key))
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, {401, "Incorrect API key provided.", "", "invalid_api_key"});
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.Get("/health", [&](const httplib::Request&, httplib::Response& res) { api.health(res); });
  svr.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) { api.models(res); });
  svr.post("/v1/completions",
           guarded([&](const httplib::Request&, httplib::Response& r, const std::string& body) {
             api.generate(body, r, false);
           }));
  svr.post("/v1/chat/completions",
           guarded([&](const httplib::Request&, httplib::Response& r, const std::string& body) {
             api.generate(body, r, true);
           }));
  svr.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const int status = res.status;
        send_error(res, {status,
                         status == 404 ? "Unknown request URL: " + req.method + " " + req.path
                                       : "HTTP error " + std::to_string(status),
                         "", status == 404 ? "unknown_url" : ""});
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        send_error(res, {500, "internal server error", "", "", "server_error"});
      });

  const int port = svr.bind_or_throw("serve", opts.host, opts.port);
  const PrefixCacheStats c = api.scheduler().cache_stats();
  const double mib = (double)c.bytes_per_cache / (1024.0 * 1024.0);
  std::fprintf(stderr,
               "lmforge serve: model '%s' on http://%s:%d/v1 (%d parallel slots; KV cache %.1f MiB "
               "each, %d pooled for prefix reuse: %.1f MiB at most with the active ones)\n",
               model.name.c_str(), opts.host.c_str(), port, opts.parallel, mib, c.slots,
               mib * (opts.parallel + c.slots));
  std::fprintf(stderr, "lmforge serve: %s\n", backend::backend_summary().c_str());
  std::fflush(stderr);
  install_interrupt_handlers();
  std::atomic<bool> stopped{false};
  std::thread watcher([&] {
    while (!stopped) {
      if (interrupt_requested()) {
        svr.stop();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  svr.listen_after_bind();
  stopped = true;
  watcher.join();
  restore_interrupt_handlers();
  std::fprintf(stderr, "lmforge serve: stopped\n");
}

}  // namespace lmforge
