// Sampling filters and the draw. Candidates are (logit, id) pairs; each filter shrinks the list.
// Deterministic by construction: sorting uses (logit desc, id asc), and the only randomness is
// one uniform from the seeded Rng per token.
#include "lmforge/infer/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "lmforge/core/error.h"

namespace lmforge {

void SamplingParams::validate() const {
  auto bad = [](const std::string& m) { throw UsageError(m); };
  if (!(temperature >= 0.0f) || !std::isfinite(temperature))
    bad("temperature must be >= 0 (0 is greedy), got " + std::to_string(temperature));
  if (top_k < 0) bad("top-k must be >= 0 (0 is off), got " + std::to_string(top_k));
  if (!(top_p > 0.0f && top_p <= 1.0f))
    bad("top-p must be in (0, 1], got " + std::to_string(top_p));
  if (!(min_p >= 0.0f && min_p <= 1.0f))
    bad("min-p must be in [0, 1], got " + std::to_string(min_p));
  if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty))
    bad("repetition-penalty must be > 0 (1 is off), got " + std::to_string(repetition_penalty));
}

namespace {
bool better(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}
}  // namespace

int32_t Sampler::sample(const float* logits, int V, std::span<const int32_t> history) {
  const float* z = logits;
  if (p_.repetition_penalty != 1.0f && !history.empty()) {
    work_.assign(logits, logits + V);
    for (int32_t id : history) {
      if (id < 0 || id >= V) continue;
      float& x = work_[id];
      // Each id is penalized once however often it occurred (as HF): a changed value means done.
      if (x == logits[id]) x = x > 0 ? x / p_.repetition_penalty : x * p_.repetition_penalty;
    }
    z = work_.data();
  }
  if (p_.temperature == 0.0f) {
    int32_t best = 0;
    for (int i = 1; i < V; ++i)
      if (z[i] > z[best]) best = i;
    return best;
  }
  cand_.resize(V);
  for (int i = 0; i < V; ++i) cand_[i] = {z[i], i};
  size_t n = V;
  if (p_.top_k > 0 && p_.top_k < V) {
    std::partial_sort(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), better);
    n = p_.top_k;
  } else {
    std::sort(cand_.begin(), cand_.end(), better);
  }
  // Softmax at temperature over the survivors (sorted, so the max is first).
  std::vector<double> p(n);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i)
    sum += (p[i] = std::exp(double(cand_[i].first - cand_[0].first) / p_.temperature));
  for (double& x : p) x /= sum;
  if (p_.top_p < 1.0f) {  // smallest prefix whose mass reaches top_p
    double acc = 0.0;
    size_t keep = 0;
    while (keep < n) {
      acc += p[keep++];
      if (acc >= p_.top_p) break;
    }
    n = keep;
  }
  if (p_.min_p > 0.0f) {
    size_t keep = 1;
    while (keep < n && p[keep] >= p_.min_p * p[0]) ++keep;
    n = keep;
  }
  double mass = 0.0;
  for (size_t i = 0; i < n; ++i) mass += p[i];
  double u = rng_.uniform() * mass;
  for (size_t i = 0; i < n; ++i) {
    u -= p[i];
    if (u < 0.0) return cand_[i].second;
  }
  return cand_[n - 1].second;
}

std::vector<double> softmax(const float* logits, int V) {
  float mx = logits[0];
  for (int i = 1; i < V; ++i) mx = std::max(mx, logits[i]);
  std::vector<double> p(V);
  double sum = 0.0;
  for (int i = 0; i < V; ++i) sum += (p[i] = std::exp(double(logits[i]) - double(mx)));
  for (double& x : p) x /= sum;
  return p;
}

namespace {
double log_sum_exp(const float* logits, int V) {
  float mx = logits[0];
  for (int i = 1; i < V; ++i) mx = std::max(mx, logits[i]);
  double sum = 0.0;
  for (int i = 0; i < V; ++i) sum += std::exp(double(logits[i]) - double(mx));
  return double(mx) + std::log(sum);
}
}  // namespace

double token_logprob(const float* logits, int V, int32_t id) {
  return double(logits[id]) - log_sum_exp(logits, V);
}

std::vector<std::pair<int32_t, double>> top_logprobs(const float* logits, int V, int k) {
  k = std::clamp(k, 0, V);
  std::vector<std::pair<float, int32_t>> c(V);
  for (int i = 0; i < V; ++i) c[i] = {logits[i], i};
  std::partial_sort(c.begin(), c.begin() + k, c.end(), better);
  const double lse = log_sum_exp(logits, V);
  std::vector<std::pair<int32_t, double>> out;
  for (int i = 0; i < k; ++i) out.push_back({c[i].second, double(c[i].first) - lse});
  return out;
}

}  // namespace lmforge
