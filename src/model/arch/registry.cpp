// The family registry and the spec-driven tensor queries of model/arch.h: presence of a tensor
// under a config's flags, arena names, shapes and GGUF names. Family facts live in the spec files
// (gpt2.cpp, llama.cpp, qwen3.cpp); this file knows none. Not here: the arena (param_layout.cpp).
#include <cstdlib>

#include "lmforge/core/error.h"
#include "lmforge/model/arch.h"

namespace lmforge {

// Defined in the spec files (function-local statics: safe from static initialization order).
const ArchSpec& gpt2_spec();
const ArchSpec& llama_spec();
const ArchSpec& qwen3_spec();

namespace {

using R = TensorRole;

const TensorSpec* spec_entry(const ArchSpec& s, R r) {
  for (const TensorSpec& t : s.tensors)
    if (t.role == r) return &t;
  return nullptr;
}

bool starts_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

// "12.rest" → 12 and the offset of "rest"; false when s has no "<digits>." at pos.
bool parse_layer(const std::string& s, size_t pos, int* layer, size_t* rest) {
  size_t i = pos;
  long v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - pos < 9) v = v * 10 + (s[i++] - '0');
  if (i == pos || i >= s.size() || s[i] != '.') return false;
  *layer = int(v);
  *rest = i + 1;
  return true;
}

}  // namespace

bool is_layer_role(TensorRole r) {
  return r != R::kEmbed && r != R::kPosEmbed && r != R::kNormFW && r != R::kNormFB && r != R::kHead;
}

const std::vector<const ArchSpec*>& arch_specs() {
  static const std::vector<const ArchSpec*> all = {&gpt2_spec(), &llama_spec(), &qwen3_spec()};
  return all;
}

std::string arch_names() {
  std::string s;
  for (const ArchSpec* a : arch_specs()) s += (s.empty() ? "" : ", ") + std::string(a->name);
  return s;
}

const ArchSpec& arch_spec(const std::string& name) {
  for (const ArchSpec* a : arch_specs())
    if (name == a->name) return *a;
  throw UsageError("unknown model family '" + name + "' (known: " + arch_names() + ")");
}

const ArchSpec* arch_for_hf(const std::string& model_type, const std::string& architecture,
                            std::string* resolved) {
  for (const ArchSpec* a : arch_specs())
    for (const auto& [mt, arch] : a->hf_types)
      if (model_type == mt || (model_type.empty() && architecture == arch)) {
        if (resolved) *resolved = mt;
        return a;
      }
  return nullptr;
}

bool has_tensor(const ModelConfig& c, TensorRole r) {
  const ArchSpec& s = c.spec();
  if (!spec_entry(s, r)) return false;
  const ArchFeatures& f = s.features;
  switch (r) {
    case R::kPosEmbed:
      return f.pos == PosKind::kLearned;
    case R::kNormFB:
    case R::kNorm1B:
    case R::kNorm2B:
      return f.norm == NormKind::kLayerNorm;
    case R::kHead:
      return !c.tie_embeddings;
    case R::kQKVB:
    case R::kQB:
    case R::kKB:
    case R::kVB:
    case R::kOB:
      return c.attn_bias;
    case R::kGateB:
    case R::kUpB:
    case R::kDownB:
      return c.mlp_bias;
    case R::kQNormW:
    case R::kKNormW:
      return f.qk_norm;
    default:
      return true;
  }
}

std::string tensor_name(const ModelConfig& c, TensorRole r, int layer) {
  const ArchSpec& s = c.spec();
  const TensorSpec* t = spec_entry(s, r);
  if (!t || !has_tensor(c, r))
    throw UsageError("a " + c.arch + " model with this configuration has no tensor of role " +
                     std::to_string(int(r)));
  if (!is_layer_role(r)) return t->hf;
  return s.hf_layer_prefix + std::to_string(layer) + "." + t->hf;
}

std::vector<int64_t> tensor_shape(const ModelConfig& c, TensorRole r) {
  const int64_t C = c.n_embd, V = c.vocab_size, FF = c.ffn_hidden, HS = c.head_dim;
  const int64_t Q = c.n_head * HS, KV = c.n_kv_head * HS, QKV = Q + 2 * KV;
  switch (r) {
    case R::kEmbed:
    case R::kHead:
      return {V, C};
    case R::kPosEmbed:
      return {c.n_ctx, C};
    case R::kNormFW:
    case R::kNormFB:
    case R::kNorm1W:
    case R::kNorm1B:
    case R::kNorm2W:
    case R::kNorm2B:
    case R::kOB:
    case R::kDownB:
      return {C};
    case R::kQKVW:
      return {QKV, C};
    case R::kQKVB:
      return {QKV};
    case R::kQW:
      return {Q, C};
    case R::kKW:
    case R::kVW:
      return {KV, C};
    case R::kQB:
      return {Q};
    case R::kKB:
    case R::kVB:
      return {KV};
    case R::kOW:
      return {C, Q};
    case R::kQNormW:
    case R::kKNormW:
      return {HS};
    case R::kGateW:
    case R::kUpW:
      return {FF, C};
    case R::kGateB:
    case R::kUpB:
      return {FF};
    case R::kDownW:
      return {C, FF};
  }
  return {};
}

const TensorSpec* find_tensor(const ModelConfig& c, const std::string& name, int* layer) {
  const ArchSpec& s = c.spec();
  *layer = -1;
  int l = -1;
  size_t rest = 0;
  const std::string lp = s.hf_layer_prefix;
  const bool in_layer = starts_with(name, lp) && parse_layer(name, lp.size(), &l, &rest);
  for (const TensorSpec& t : s.tensors) {
    if (!has_tensor(c, t.role)) continue;
    if (!is_layer_role(t.role)) {
      if (name == t.hf) return &t;
    } else if (in_layer && l < c.n_layer && name.compare(rest, std::string::npos, t.hf) == 0) {
      *layer = l;
      return &t;
    }
  }
  return nullptr;
}

bool absent_on_disk(const ModelConfig& c, const std::string& name) {
  if (!c.attn_bias || c.attn_out_bias) return false;
  int layer = -1;
  const TensorSpec* t = find_tensor(c, name, &layer);
  return t && t->role == R::kOB;
}

std::string gguf_name(const ModelConfig& c, const std::string& name) {
  // By name alone (not the config's flags): "lm_head.weight" has a GGUF name even when tied.
  const ArchSpec& s = c.spec();
  int l = -1;
  size_t rest = 0;
  const std::string lp = s.hf_layer_prefix;
  const bool in_layer = starts_with(name, lp) && parse_layer(name, lp.size(), &l, &rest);
  for (const TensorSpec& t : s.tensors) {
    if (!is_layer_role(t.role)) {
      if (name == t.hf) return t.gguf;
    } else if (in_layer && name.compare(rest, std::string::npos, t.hf) == 0) {
      return "blk." + std::to_string(l) + "." + t.gguf;
    }
  }
  return "";
}

}  // namespace lmforge
