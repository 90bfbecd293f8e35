// `lmforge label` server (see label_server.h): prompt loading and validation, answers sampled
// once per prompt with the batched generation engine (a background thread works ahead; a labeler
// who gets there first generates on demand), prompt assignment, and the HTTP/JSON API.
// Locking: db_mu_ guards the one SQLite connection and the assignment table; gen_mu_ serializes
// use of the model. Neither is held while waiting for the other's long work.
#include "lmforge/serve/label_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "lmforge/core/error.h"
#include "lmforge/core/interrupt.h"
#include "lmforge/data/chat_render.h"
#include "lmforge/data/datasets.h"
#include "lmforge/infer/generate.h"
#include "lmforge/serve/label_db.h"
#include "lmforge/serve/label_page.h"
#include "serve/http_server.h"
#include "serve/json_fields.h"

namespace lmforge {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct HttpError {
  int status;
  std::string message;
};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// SipHash-2-4 (Aumasson and Bernstein, 2012) of one 64-bit word: a keyed pseudo-random function,
// so that the ids the page sees cannot be guessed or enumerated without the key.
uint64_t siphash_word(uint64_t k0, uint64_t k1, uint64_t m) {
  uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
  auto rotl = [](uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
  auto round = [&] {
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
  };
  const uint64_t last = uint64_t{8} << 56;  // the message length (8 bytes) in the final block
  for (uint64_t w : {m, last}) {
    v3 ^= w;
    round(), round();
    v0 ^= w;
  }
  v2 ^= 0xff;
  round(), round(), round(), round();
  return v0 ^ v1 ^ v2 ^ v3;
}

// The ids of the page's API: "p" or "a" and 16 hex digits, a keyed hash of the database id. The
// key is made once per database (kept in its meta), so ids stay valid across restarts.
class PublicIds {
 public:
  void set_key(const std::string& hex) {
    k0_ = std::stoull(hex.substr(0, 16), nullptr, 16);
    k1_ = std::stoull(hex.substr(16, 16), nullptr, 16);
  }
  static std::string new_key() {
    std::random_device rd;
    char buf[33];
    std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
    return buf;
  }
  std::string prompt(int64_t id) const { return make('p', id); }
  std::string answer(int64_t id) const { return make('a', id); }

 private:
  std::string make(char kind, int64_t id) const {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%c%016llx", kind,
                  (unsigned long long)siphash_word(k0_, k1_ ^ (uint64_t)kind, (uint64_t)id));
    return buf;
  }
  uint64_t k0_ = 0, k1_ = 0;
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string labeler_name(const std::string& raw) {
  const std::string n = trim(raw);
  if (n.empty() || n.size() > 100) throw HttpError{400, "labeler name must be 1 to 100 characters"};
  return n;
}

// A labeler keeps the prompt they were given for this long; meanwhile others are steered to
// other prompts, so two people at once do not rank the same prompt unless nothing else is left.
constexpr auto kHoldFor = std::chrono::minutes(30);
constexpr int kResampleRounds = 3;  // tries to replace duplicate answers with distinct ones

class LabelApp {
 public:
  LabelApp(LoadedModel& m, const LabelOptions& o) : m_(m), o_(o) { load(); }

  size_t prompt_count() const { return prompts_.size(); }

  // Samples the answers of every prompt still without them, in file order, until stop.
  void generate_all(const std::atomic<bool>& stop) {
    size_t sampled = 0;
    for (size_t i = 0; i < prompts_.size() && !stop; ++i) {
      if (!ensure_answers(i, stop)) continue;
      if (++sampled % 10 == 0)
        std::fprintf(stderr, "lmforge label: answers ready for %zu/%zu prompts\n", i + 1,
                     prompts_.size());
    }
    if (!stop)
      std::fprintf(stderr, "lmforge label: answers ready for all %zu prompts (%zu sampled now)\n",
                   prompts_.size(), sampled);
  }

  json next(const std::string& raw_name) {
    const std::string name = labeler_name(raw_name);
    const std::atomic<bool> never{false};
    for (int attempt = 0; attempt < 1000; ++attempt) {
      if (interrupt_requested()) throw HttpError{503, "the server is stopping"};
      int64_t pick = -1;
      {
        std::lock_guard<std::mutex> lock(db_mu_);
        pick = choose(name);
        if (pick < 0) return {{"done", true}, {"progress", progress_locked(name)}};
      }
      ensure_answers(index_.at(pick), never);
      std::lock_guard<std::mutex> lock(db_mu_);
      std::vector<LabelAnswer> ans = db_->answers(pick);
      if (ans.size() < 2) continue;  // skipped: fewer than 2 distinct answers; choose again
      std::mt19937_64 rng(splitmix(fnv1a(name) ^ (uint64_t)pick));
      std::shuffle(ans.begin(), ans.end(), rng);
      const auto& p = prompts_[index_.at(pick)];
      json answers = json::array();
      for (const auto& a : ans)
        answers.push_back({{"id", ids_out_.answer(a.id)}, {"text", a.text}});
      return {
          {"done", false},
          {"prompt", {{"id", ids_out_.prompt(pick)}, {"text", p.text}, {"rendered", p.rendered}}},
          {"answers", answers},
          {"progress", progress_locked(name)}};
    }
    throw HttpError{500, "could not find a prompt to offer"};
  }

  json submit(const std::string& body) {
    json b;
    try {
      b = json::parse(body);
    } catch (const json::exception& e) {
      throw HttpError{400, std::string("request body is not JSON: ") + e.what()};
    }
    if (!b.is_object()) throw HttpError{400, "request body must be a JSON object"};
    auto field = [&](const char* key, bool (json::*is)() const, bool required) -> const json* {
      if (!b.contains(key) || b[key].is_null()) {
        if (required) throw HttpError{400, std::string("field '") + key + "' is missing"};
        return nullptr;
      }
      if (!(b[key].*is)())
        throw HttpError{400, std::string("field '") + key + "' has the wrong type"};
      return &b[key];
    };
    RankingSubmission s;
    s.labeler = labeler_name(field("labeler", &json::is_string, true)->get<std::string>());
    const std::string pid = field("prompt_id", &json::is_string, true)->get<std::string>();
    const auto p = public_prompts_.find(pid);
    if (p == public_prompts_.end())
      throw HttpError{404, "field 'prompt_id': prompt '" + pid + "' is not in this session"};
    s.prompt_id = p->second;
    if (const json* t = field("ties", &json::is_array, false)) {
      for (const auto& x : *t) {
        if (!x.is_boolean()) throw HttpError{400, "field 'ties' must be an array of true/false"};
        s.tie_with_above.push_back(x.get<bool>());
      }
    }
    if (const json* a = field("all_bad", &json::is_boolean, false)) s.all_bad = a->get<bool>();
    if (const json* t = field("better", &json::is_string, false))
      s.better = trim(t->get<std::string>());
    if (s.better.size() > o_.max_answer_bytes)
      throw HttpError{400, "field 'better' is " + std::to_string(s.better.size()) +
                               " bytes; at most " + std::to_string(o_.max_answer_bytes) +
                               " are kept (--max-answer-bytes)"};
    if (const json* d = field("duration_ms", &json::is_number, false)) {
      const auto v = json_integer(*d, 0, std::numeric_limits<int64_t>::max());
      if (!v) throw HttpError{400, "field 'duration_ms' must be a whole number of milliseconds"};
      s.duration_ms = *v;
    }
    const json& order = *field("order", &json::is_array, true);
    std::lock_guard<std::mutex> lock(db_mu_);
    std::map<std::string, int64_t> answer_ids;
    for (const LabelAnswer& a : db_->answers(s.prompt_id)) answer_ids[ids_out_.answer(a.id)] = a.id;
    for (const auto& x : order) {
      const auto a = x.is_string() ? answer_ids.find(x.get<std::string>()) : answer_ids.end();
      if (a == answer_ids.end())
        throw HttpError{400,
                        "field 'order' must list answer ids of this prompt (strings from "
                        "/api/next); " +
                            x.dump().substr(0, 40) + " is not one"};
      s.order.push_back(a->second);
    }
    const int64_t id = db_->submit(s);  // UsageError -> 400, LabelConflict -> 409
    if (auto h = holds_.find(s.labeler); h != holds_.end() && h->second.prompt == s.prompt_id)
      holds_.erase(h);
    return {{"ok", true}, {"ranking_id", id}, {"progress", progress_locked(s.labeler)}};
  }

  json progress(const std::string& raw_name) {
    std::lock_guard<std::mutex> lock(db_mu_);
    return progress_locked(raw_name.empty() ? "" : labeler_name(raw_name));
  }

  const std::string& model_name() const { return m_.name; }

 private:
  struct Prompt {
    int64_t id;
    std::string text, rendered;
    std::vector<int32_t> ids;
  };

  void load() {
    if (o_.samples < 2)
      throw UsageError("--samples must be at least 2: a ranking compares answers");
    if (o_.sampling.temperature <= 0.0f)
      throw UsageError("--temperature must be above 0: greedy decoding gives the same answer " +
                       std::to_string(o_.samples) + " times, and rankings need distinct answers");
    if (o_.max_tokens < 1) throw UsageError("--max-tokens must be at least 1");
    o_.sampling.validate();
    if (o_.chat != "auto" && o_.chat != "on" && o_.chat != "off")
      throw UsageError("--chat must be auto, on or off (got '" + o_.chat + "')");
    chat_ = o_.chat == "on" ||
            (o_.chat == "auto" && m_.tokenizer.special_id("<|im_start|>").has_value());
    const std::vector<PromptExample> ex = read_prompts_jsonl(o_.prompts);
    stop_ids_ = m_.eos_ids;
    ChatTemplate tmpl;
    if (chat_) {
      tmpl = m_.chat_template();  // UsageError for a template lmforge cannot render
      for (int32_t id : tmpl.stop_ids(m_.tokenizer)) stop_ids_.push_back(id);
      stop_ = {tmpl.end_of_turn()};
      strip_reply_space_ = tmpl.reply_has_prefix_space();
    }
    const int n_ctx = m_.model.config().n_ctx;
    std::vector<std::string> texts, rendered;
    std::vector<std::vector<int32_t>> ids;
    std::map<std::string, bool> seen;
    int64_t dup = 0;
    for (const auto& e : ex) {
      if (seen[e.prompt]) {
        ++dup;
        continue;
      }
      seen[e.prompt] = true;
      const std::vector<ChatMessage> msgs{{"user", e.prompt}};
      std::vector<int32_t> t =
          chat_ ? tmpl.encode(m_.tokenizer, msgs, true) : m_.encode_prompt(e.prompt);
      if ((int)t.size() >= n_ctx)
        throw InputError(o_.prompts.string(), e.line, "prompt",
                         "prompt is " + std::to_string(t.size()) +
                             " tokens; the model's context is " + std::to_string(n_ctx) +
                             " and the answer needs room",
                         "shorten the prompt or remove it");
      texts.push_back(e.prompt);
      rendered.push_back(chat_ ? tmpl.render(msgs, true) : e.prompt);
      ids.push_back(std::move(t));
    }
    if (dup > 0)
      std::fprintf(stderr, "lmforge label: %lld duplicate prompts in %s offered once\n",
                   (long long)dup, o_.prompts.string().c_str());
    db_ = std::make_unique<LabelDb>(o_.db, true);
    const std::vector<int64_t> db_ids = db_->add_prompts(texts, rendered);
    for (size_t i = 0; i < texts.size(); ++i) {
      index_[db_ids[i]] = prompts_.size();
      prompts_.push_back({db_ids[i], texts[i], rendered[i], std::move(ids[i])});
      ids_.push_back(db_ids[i]);
    }
    const std::string model = std::filesystem::absolute(m_.dir).lexically_normal().string();
    const std::string first = db_->set_meta("model", model, false);
    if (first != model)
      std::fprintf(stderr,
                   "lmforge label: note: answers already in %s were sampled from %s; they are "
                   "kept (new prompts get answers from %s)\n",
                   o_.db.string().c_str(), first.c_str(), model.c_str());
    ids_out_.set_key(db_->set_meta("id_key", PublicIds::new_key(), false));
    for (int64_t id : ids_) public_prompts_[ids_out_.prompt(id)] = id;
    db_->set_meta("samples", std::to_string(o_.samples), false);
    db_->set_meta("chat", chat_ ? "on" : "off", false);
    if (!o_.config_yaml.empty()) db_->set_meta("config", o_.config_yaml, true);  // latest session
  }

  // The prompt to give `name` next: the one they hold, else the least-ranked one that nobody
  // else holds (holds count as rankings), file order on ties. -1 when none is left. db_mu_ held.
  int64_t choose(const std::string& name) {
    const auto cand = db_->unranked_by(name, ids_);
    if (cand.empty()) return -1;
    const auto now = Clock::now();
    std::map<int64_t, int64_t> held;
    for (auto it = holds_.begin(); it != holds_.end();) {
      if (now - it->second.at > kHoldFor) {
        it = holds_.erase(it);
        continue;
      }
      if (it->first != name) ++held[it->second.prompt];
      ++it;
    }
    if (auto h = holds_.find(name); h != holds_.end())
      for (const auto& [id, n] : cand)
        if (id == h->second.prompt) return id;
    int64_t best = -1, best_key = 0;
    for (const auto& [id, n] : cand) {
      const int64_t key = n + held[id];
      if (best < 0 || key < best_key) best = id, best_key = key;
    }
    holds_[name] = {best, now};
    return best;
  }

  // Samples and stores the answers of prompts_[i] unless stored already. Returns true when it
  // sampled. A stop request abandons the work without storing anything.
  bool ensure_answers(size_t i, const std::atomic<bool>& stop) {
    const Prompt& p = prompts_[i];
    auto stored = [&] {
      std::lock_guard<std::mutex> lock(db_mu_);
      return db_->has_answers(p.id);
    };
    if (stored()) return false;  // the common case: no wait for the sampler
    std::lock_guard<std::mutex> gen(gen_mu_);
    if (stored()) return false;  // sampled while we waited
    std::vector<std::string> texts;
    std::vector<uint64_t> seeds;
    const uint64_t base = splitmix(o_.sampling.seed ^ fnv1a(p.text));
    int round = 0, sample = 0;
    for (; round < kResampleRounds && (int)texts.size() < o_.samples; ++round) {
      std::vector<std::unique_ptr<Sequence>> seqs;
      std::vector<uint64_t> seq_seeds;
      for (int k = (int)texts.size(); k < o_.samples; ++k) {
        GenerateRequest req;
        req.prompt = p.ids;
        req.max_tokens = o_.max_tokens;
        req.sampling = o_.sampling;
        req.sampling.seed = splitmix(base + (uint64_t)sample++);
        req.stop = stop_;
        req.stop_ids = stop_ids_;
        seq_seeds.push_back(req.sampling.seed);
        seqs.push_back(std::make_unique<Sequence>(*m_.infer, m_.tokenizer, std::move(req)));
      }
      std::vector<Sequence*> ptrs;
      for (auto& s : seqs) ptrs.push_back(s.get());
      while (step(*m_.infer, ptrs) > 0) {
        if (stop || interrupt_requested()) return false;
      }
      for (size_t k = 0; k < seqs.size(); ++k) {
        const std::string text =
            strip_reply_space_ ? strip_reply_prefix(seqs[k]->text()) : seqs[k]->text();
        if (std::find(texts.begin(), texts.end(), text) != texts.end()) continue;
        texts.push_back(text);
        seeds.push_back(seq_seeds[k]);
      }
    }
    std::lock_guard<std::mutex> lock(db_mu_);
    if (db_->store_answers(p.id, texts, seeds) < 2)
      std::fprintf(stderr, "lmforge label: prompt %lld skipped: fewer than 2 distinct answers\n",
                   (long long)p.id);
    return true;
  }

  json progress_locked(const std::string& name) {
    const LabelStats st = db_->stats(ids_);
    json per = json::array();
    for (const auto& [n, c] : st.per_labeler) per.push_back({{"name", n}, {"rankings", c}});
    const LabelAgreement& a = st.agreement;
    json agree = {
        {"method",
         "fraction of answer pairs two labelers order the same way (ties skipped), and "
         "mean Kendall tau over pairs of rankings"},
        {"prompts", a.prompts},
        {"ranking_pairs", a.ranking_pairs},
        {"concordant", a.concordant},
        {"discordant", a.discordant},
        {"concordant_fraction", a.concordant_fraction ? json(*a.concordant_fraction) : json()},
        {"kendall_tau", a.kendall_tau ? json(*a.kendall_tau) : json()}};
    json j = {{"total", st.prompts - st.skipped},
              {"prompts", st.prompts},
              {"skipped", st.skipped},
              {"labelled", st.labelled},
              {"rankings", st.rankings},
              {"with_answers", st.with_answers},
              {"labelers", per},
              {"agreement", agree},
              {"model", m_.name},
              {"chat", chat_}};
    if (!name.empty()) {
      j["mine"] = db_->rankings_by(name);
      j["remaining_for_me"] = (int64_t)db_->unranked_by(name, ids_).size();
    }
    return j;
  }

  LoadedModel& m_;
  LabelOptions o_;
  bool chat_ = false;
  bool strip_reply_space_ = false;  // the template put a space before each reply (ChatML)
  std::vector<int32_t> stop_ids_;
  std::vector<std::string> stop_;
  std::vector<Prompt> prompts_;
  std::vector<int64_t> ids_;
  std::map<int64_t, size_t> index_;
  PublicIds ids_out_;                              // database id -> id the page sees
  std::map<std::string, int64_t> public_prompts_;  // and back, for prompts
  std::mutex db_mu_, gen_mu_;
  std::unique_ptr<LabelDb> db_;
  struct Hold {
    int64_t prompt;
    Clock::time_point at;
  };
  std::map<std::string, Hold> holds_;
};

void send_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

// True when a Content-Type header names JSON (parameters such as charset allowed).
bool is_json_type(const std::string& content_type) {
  std::string t = trim(content_type.substr(0, content_type.find(';')));
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t == "application/json";
}

}  // namespace

void serve_label(LoadedModel& model, const LabelOptions& opts) {
  LabelApp app(model, opts);
  HttpLimits limits;
  limits.max_body_bytes = opts.max_body_bytes;
  limits.request_timeout_s = opts.request_timeout_s;
  limits.max_connections = std::max(opts.threads, 2);
  HttpServer svr(limits, [](httplib::Response& res, int status, const std::string& message,
                            const std::string&) {
    send_json(res, {{"error", {{"message", message}}}}, status);
  });
  auto guarded = [](auto fn) {
    return [fn](const httplib::Request& req, httplib::Response& res) {
      try {
        fn(req, res);
      } catch (const HttpError& e) {
        send_json(res, {{"error", {{"message", e.message}}}}, e.status);
      } catch (const LabelConflict& e) {
        send_json(res, {{"error", {{"message", e.what()}}}}, 409);
      } catch (const UsageError& e) {
        send_json(res, {{"error", {{"message", e.what()}}}}, 400);
      } catch (const std::exception& e) {
        send_json(res, {{"error", {{"message", e.what()}}}}, 500);
      }
    };
  };
  auto asset = [](const char* type, const char* body) {
    return [type, body](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      // Everything the page needs comes from this server: no external network.
      res.set_header(
          "Content-Security-Policy",
          "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:");
      res.set_content(body, type);
    };
  };
  svr.Get("/", asset("text/html; charset=utf-8", label_page_html()));
  svr.Get("/label.css", asset("text/css; charset=utf-8", label_page_css()));
  svr.Get("/label.js", asset("text/javascript; charset=utf-8", label_page_js()));
  svr.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, {{"status", "ok"}});
  });
  svr.Get("/api/next", guarded([&](const httplib::Request& q, httplib::Response& r) {
            send_json(r, app.next(q.get_param_value("labeler")));
          }));
  svr.Get("/api/progress", guarded([&](const httplib::Request& q, httplib::Response& r) {
            send_json(r, app.progress(q.get_param_value("labeler")));
          }));
  // Cross-site forgery: a page elsewhere can POST text/plain without asking, but not JSON (that
  // needs a CORS preflight, which this server never grants); HttpServer refuses a foreign Origin.
  svr.post("/api/submit",
           [&](const httplib::Request& q, httplib::Response& r, const std::string& body) {
             guarded([&](const httplib::Request& req, httplib::Response& res) {
               if (!is_json_type(req.get_header_value("Content-Type")))
                 throw HttpError{415, "Content-Type must be application/json (got '" +
                                          req.get_header_value("Content-Type") + "')"};
               send_json(res, app.submit(body));
             })(q, r);
           });
  svr.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        send_json(res, {{"error", {{"message", "no such page: " + req.method + " " + req.path}}}},
                  res.status);
        return httplib::Server::HandlerResponse::Handled;
      }));

  const int port = svr.bind_or_throw("label", opts.host, opts.port);
  std::fprintf(stderr, "lmforge label: %zu prompts, %d answers each, database %s\n",
               app.prompt_count(), opts.samples, opts.db.string().c_str());
  std::fprintf(stderr, "lmforge label: open http://%s:%d/ in a browser\n", opts.host.c_str(), port);
  std::fflush(stderr);
  install_interrupt_handlers();
  std::atomic<bool> stopped{false};
  std::thread generator([&] {
    try {
      app.generate_all(stopped);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lmforge label: sampling answers failed: %s\n", e.what());
    }
  });
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
  generator.join();
  restore_interrupt_handlers();
  std::fprintf(stderr, "lmforge label: stopped (every submitted ranking is in %s)\n",
               opts.db.string().c_str());
}

}  // namespace lmforge
