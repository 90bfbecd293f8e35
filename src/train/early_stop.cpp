// Best-weights selection and early stopping on a held-out measure (see early_stop.h).
// RUN/best_weights.bin: one JSON header line {"format", "step", "metric", "value", "numel",
// "eval"} then the weights as little-endian float32, written atomically at each new best.
#include "lmforge/train/early_stop.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr const char* kFormat = "lmforge-best-weights";
}

BestWeights::BestWeights(fs::path file, EarlyStopConfig cfg, std::vector<WeightSpan> weights,
                         bool writes)
    : file_(std::move(file)), cfg_(std::move(cfg)), spans_(std::move(weights)), writes_(writes) {
  if (cfg_.metric.empty()) throw UsageError("early stopping needs a metric");
  if (cfg_.patience < 0) throw UsageError("--early-stop-patience must be >= 0");
}

bool BestWeights::better(const std::map<std::string, double>& ev) const {
  auto it = ev.find(cfg_.metric);
  if (it == ev.end() || !std::isfinite(it->second)) return false;
  if (best_step_ < 0) return true;
  const double d = cfg_.higher_is_better ? it->second - best_value_ : best_value_ - it->second;
  if (d > cfg_.min_delta) return true;
  if (d < -cfg_.min_delta || cfg_.tie_metric.empty() || d != 0) return false;
  // Exactly equal (accuracies over few pairs often are): the tie metric decides.
  auto t = ev.find(cfg_.tie_metric);
  auto b = best_eval_.find(cfg_.tie_metric);
  if (t == ev.end() || b == best_eval_.end()) return false;
  return cfg_.tie_higher_is_better ? t->second > b->second : t->second < b->second;
}

bool BestWeights::observe(int64_t step, const std::map<std::string, double>& ev) {
  last_step_ = step;
  if (better(ev)) {
    best_step_ = step;
    best_value_ = ev.at(cfg_.metric);
    best_eval_ = ev;
    since_best_ = 0;
    best_.clear();
    for (const WeightSpan& s : spans_) best_.insert(best_.end(), s.data, s.data + s.numel);
    write();
    return false;
  }
  ++since_best_;
  return cfg_.patience > 0 && since_best_ >= cfg_.patience;
}

bool BestWeights::restore() {
  if (best_step_ < 0 || best_step_ == last_step_) return false;
  size_t off = 0;
  for (const WeightSpan& s : spans_) {
    std::copy(best_.begin() + long(off), best_.begin() + long(off + s.numel), s.data);
    off += s.numel;
  }
  return true;
}

void BestWeights::write() const {
  if (file_.empty() || !writes_) return;
  json eval = json::object();
  for (const auto& [k, v] : best_eval_) eval[k] = v;
  std::string bytes = json{{"format", kFormat},    {"step", best_step_},    {"metric", cfg_.metric},
                           {"value", best_value_}, {"numel", best_.size()}, {"eval", eval}}
                          .dump() +
                      "\n";
  const size_t head = bytes.size();
  bytes.resize(head + best_.size() * sizeof(float));
  std::memcpy(bytes.data() + head, best_.data(), best_.size() * sizeof(float));
  write_file_atomic(file_, bytes);
}

bool BestWeights::load() {
  if (file_.empty() || !fs::exists(file_)) return false;
  const std::string bytes = read_file(file_);
  const size_t nl = bytes.find('\n');
  if (nl == std::string::npos) return false;
  json h = json::parse(bytes.substr(0, nl), nullptr, false);
  size_t numel = 0;
  for (const WeightSpan& s : spans_) numel += s.numel;
  if (!h.is_object() || h.value("format", "") != kFormat || h.value("metric", "") != cfg_.metric ||
      h.value("numel", size_t(0)) != numel || bytes.size() != nl + 1 + numel * sizeof(float))
    return false;
  best_.resize(numel);
  std::memcpy(best_.data(), bytes.data() + nl + 1, numel * sizeof(float));
  best_step_ = h["step"].get<int64_t>();
  best_value_ = h["value"].get<double>();
  best_eval_.clear();
  if (h["eval"].is_object())
    for (const auto& [k, v] : h["eval"].items())
      if (v.is_number()) best_eval_[k] = v.get<double>();
  since_best_ = 0;
  return true;
}

void attach_best_weights(BestWeights& best, TrainHooks& hooks, bool resumed,
                         const std::map<std::string, double>& start) {
  if (!resumed || !best.load())
    if (!start.empty()) best.observe(0, start);
  auto inner = hooks.stop_after_eval;
  hooks.stop_after_eval = [&best, inner](int64_t step, const std::map<std::string, double>& ev) {
    const bool stop = best.observe(step, ev);
    return (inner && inner(step, ev)) || stop;
  };
}

bool finish_best_weights(BestWeights& best, TrainResult& result, const std::string& stage) {
  if (result.interrupted || !best.has_best()) return false;
  if (result.stopped_early)
    std::fprintf(stderr, "%s: stopped early after step %lld: %d evaluations without a better %s\n",
                 stage.c_str(), static_cast<long long>(result.steps_done), best.config().patience,
                 best.config().metric.c_str());
  if (!best.restore()) return false;
  const auto& ev = result.last_eval;
  auto last = ev.find(best.config().metric);
  std::fprintf(stderr,
               "%s: keeping the weights of step %lld (held-out %s %.4f%s%s): later evaluations "
               "were worse\n",
               stage.c_str(), static_cast<long long>(best.best_step()),
               best.config().metric.c_str(), best.best_value(), last != ev.end() ? ", last " : "",
               last != ev.end() ? std::to_string(last->second).c_str() : "");
  result.last_eval = best.best_eval();
  if (result.last_eval.count("val_loss")) result.last_val_loss = result.last_eval.at("val_loss");
  return true;
}

int64_t selection_eval_every(int64_t total_steps, int evals) {
  return std::max<int64_t>(1, total_steps / std::max(1, evals));
}

}  // namespace lmforge
