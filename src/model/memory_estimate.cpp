// Memory estimates from a ModelConfig alone, and the check against /proc/meminfo.
#include "lmforge/model/memory_estimate.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "lmforge/core/error.h"
#include "lmforge/model/arch.h"

namespace lmforge {
namespace {

std::string gib(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024 * 1024 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.3g PiB", bytes / (1024.0 * 1024 * 1024 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
  return buf;
}

double padded(double n) {  // Transformer's activation buffer rounds each view to 16 floats
  return std::ceil(n / 16) * 16;
}

// Parameters from the config, in double (ModelConfig::num_params() in int64 could overflow for
// absurd sizes before the check that refuses them).
double param_count(const ModelConfig& c) {
  const double C = c.n_embd, V = c.vocab_size, L = c.n_layer, FF = c.ffn_hidden;
  const double HS = c.head_dim, QKV = (double(c.n_head) + 2.0 * c.n_kv_head) * HS,
               A = double(c.n_head) * HS;
  const ArchFeatures& f = c.features();
  double n = V * C + (f.rope() ? 0 : double(c.n_ctx) * C) + (c.tie_embeddings ? 0 : V * C);
  const double norm = f.rms() ? C : 2 * C, up = f.up_factor() * FF;
  double layer = 2 * norm + QKV * C + (c.attn_bias ? QKV : 0) + C * A + (c.attn_bias ? C : 0) +
                 (f.qk_norm ? 2 * HS : 0) + up * C + (c.mlp_bias ? up : 0) + C * FF +
                 (c.mlp_bias ? C : 0);
  return n + L * layer + norm;
}

double kv_cache_bytes(const ModelConfig& c) {
  return 2.0 * c.n_layer * double(c.n_kv_head) * c.head_dim * c.n_ctx * sizeof(float);
}

}  // namespace

double MemoryEstimate::total() const {
  double t = 0;
  for (const auto& [what, b] : parts) t += b;
  return t;
}

std::string MemoryEstimate::describe() const {
  std::string s = gib(total()) + " (";
  for (size_t i = 0; i < parts.size(); ++i)
    s += (i ? ", " : "") + parts[i].first + " " + gib(parts[i].second);
  return s + ")";
}

double activation_floats(const ModelConfig& c, double N) {
  const double C = c.n_embd, QKV = (double(c.n_head) + 2.0 * c.n_kv_head) * c.head_dim,
               A = double(c.n_head) * c.head_dim, FF = c.ffn_hidden;
  const double UP = c.features().up_factor() * FF, NH = c.n_head, V = c.vocab_size;
  double layer = 0;
  for (double n : {N * C, N * C, N, N, N * QKV, N * A, N * NH, N * C, N * C, N, N, N * UP, N * FF})
    layer += padded(n);
  if (c.features().qk_norm)  // the q/k heads before their norm, and their rstd
    layer += padded(N * (NH + c.n_kv_head) * c.head_dim) + padded(N * (NH + c.n_kv_head));
  double rest = 0;
  for (double n : {N * C, N * C, N, N, N * V, N}) rest += padded(n);
  for (double n : {N * C, N * C, N * QKV, N * A, N * UP, N * FF}) rest += padded(n);
  return layer * c.n_layer + rest;
}

MemoryEstimate load_memory(const ModelConfig& cfg) {
  const double p = param_count(cfg) * sizeof(float);
  return {{{"parameters", p}, {"gradients", p}, {"KV cache", kv_cache_bytes(cfg)}}};
}

MemoryEstimate training_memory(const ModelConfig& cfg, int batch_size, int seq_len) {
  const double p = param_count(cfg) * sizeof(float);
  const double acts = activation_floats(cfg, double(batch_size) * seq_len) * sizeof(float);
  return {{{"parameters", p}, {"gradients", p}, {"AdamW moments", 2 * p}, {"activations", acts}}};
}

double available_memory_bytes(const std::string& meminfo_path) {
  std::FILE* f = std::fopen(meminfo_path.c_str(), "r");
  if (!f) return 0;
  double avail = -1, swap = 0;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long kb = 0;
    if (std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1) avail = double(kb) * 1024;
    if (std::sscanf(line, "SwapFree: %llu kB", &kb) == 1) swap = double(kb) * 1024;
  }
  std::fclose(f);
  return avail < 0 ? 0 : avail + swap;
}

void require_memory(const MemoryEstimate& need, const std::string& what, const std::string& hint) {
  const double avail = available_memory_bytes();
  if (avail <= 0 || need.total() <= avail) return;
  throw UsageError(what + " needs about " + need.describe() + " but this machine has " +
                   gib(avail) + " available (MemAvailable + SwapFree in /proc/meminfo)" +
                   (hint.empty() ? "" : " (hint: " + hint + ")"));
}

}  // namespace lmforge
