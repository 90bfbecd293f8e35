// ModelConfig: HF config.json mapping and presets (both delegated to the family's spec,
// model/arch.h), parameter count and validation from the features. Not here: which keys a family
// reads (src/model/arch/<family>.cpp).
#include "lmforge/model/config.h"

#include <cstdint>

#include "arch/hf_json.h"
#include "lmforge/core/error.h"
#include "lmforge/model/arch.h"

namespace lmforge {
namespace {

using json = nlohmann::json;

// The spec and model_type of a config.json (model_type first, else architectures[0]).
const ArchSpec& detect_family(const json& j, const std::string& file, std::string* model_type) {
  std::string mt = j.contains("model_type") && j["model_type"].is_string()
                       ? j["model_type"].get<std::string>()
                       : "";
  std::string arch0;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    arch0 = j["architectures"][0].get<std::string>();
  if (const ArchSpec* s = arch_for_hf(mt, arch0, model_type)) return *s;
  std::string known;
  for (const ArchSpec* s : arch_specs())
    for (const auto& [t, a] : s->hf_types) known += (known.empty() ? "" : ", ") + std::string(a);
  throw InputError(file, 0, "model_type",
                   "unsupported model type '" + mt + "' (architectures: '" + arch0 + "')",
                   "lmforge loads " + known + " checkpoints");
}

}  // namespace

const ArchSpec& ModelConfig::spec() const {
  return arch_spec(arch);
}

const ArchFeatures& ModelConfig::features() const {
  return spec().features;
}

// A function-try-block: a JSON access this function does not check itself (a bug) still becomes an
// InputError naming the file rather than a bare json exception.
ModelConfig ModelConfig::from_hf_json(const json& j, const std::string& file) try {
  if (!j.is_object()) throw InputError(file, 0, "", "config.json must be a JSON object");
  ModelConfig c;
  std::string model_type;
  const ArchSpec& s = detect_family(j, file, &model_type);
  c.arch = s.name;
  s.from_hf(c, j, file, model_type);
  try {
    c.validate();
  } catch (const UsageError& e) {
    throw InputError(file, 0, "", e.what(), "the config.json values are inconsistent");
  }
  return c;
} catch (const nlohmann::json::exception& e) {
  throw InputError(file, 0, "", std::string("unexpected JSON content: ") + e.what());
}

json ModelConfig::to_hf_json() const {
  json j = spec().to_hf(*this);
  j["bos_token_id"] = hf::token_json(bos_token_id);
  j["eos_token_id"] = hf::token_json(eos_token_id);
  j["torch_dtype"] = "float32";
  return j;
}

std::string ModelConfig::preset_names() {
  std::string s;
  for (const ArchSpec* a : arch_specs())
    for (const ArchPreset& p : a->presets) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

ModelConfig ModelConfig::preset(const std::string& name, int vocab_size) {
  for (const ArchSpec* a : arch_specs())
    for (const ArchPreset& p : a->presets)
      if (name == p.name) {
        ModelConfig c = p.make(vocab_size);
        c.validate();
        return c;
      }
  throw UsageError("unknown preset '" + name + "' (valid: " + preset_names() + ")");
}

int64_t ModelConfig::num_params() const {
  const int64_t C = n_embd, V = vocab_size, L = n_layer, FF = ffn_hidden, HS = head_dim;
  const int64_t QKV = qkv_dim(), A = attn_dim();
  const ArchFeatures& f = features();
  int64_t n = V * C;                                        // token embedding
  if (f.pos == PosKind::kLearned) n += int64_t(n_ctx) * C;  // learned positions
  if (!tie_embeddings) n += V * C;                          // separate head
  const int64_t norm = f.rms() ? C : 2 * C;
  int64_t layer = 2 * norm;
  layer += QKV * C + (attn_bias ? QKV : 0);  // q, k, v
  layer += C * A + (attn_bias ? C : 0);      // attention output
  if (f.qk_norm) layer += 2 * HS;            // q and k head norms
  const int64_t up = f.up_factor() * FF;     // SwiGLU has gate and up
  layer += up * C + (mlp_bias ? up : 0);
  layer += C * FF + (mlp_bias ? C : 0);  // down
  return n + L * layer + norm;           // + final norm
}

void ModelConfig::validate() const {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw UsageError("invalid model config: " + msg);
  };
  bool known = false;
  for (const ArchSpec* a : arch_specs()) known |= arch == a->name;
  need(known, "arch must be one of " + arch_names() + ", got '" + arch + "'");
  need(vocab_size > 0, "vocab_size must be positive");
  need(n_ctx > 0, "n_ctx must be positive");
  need(n_layer > 0, "n_layer must be positive");
  need(n_head > 0 && n_kv_head > 0, "n_head and n_kv_head must be positive");
  need(n_embd > 0 && ffn_hidden > 0 && head_dim > 0,
       "n_embd, ffn_hidden, head_dim must be positive");
  // Products the model computes in int (QKV = (NH + 2·NKV)·HS, 2·FF for SwiGLU) must fit it.
  need(int64_t(n_head + int64_t(2) * n_kv_head) * head_dim <= INT32_MAX &&
           int64_t(2) * ffn_hidden <= INT32_MAX && int64_t(n_head) * head_dim <= INT32_MAX,
       "sizes too large: (n_head + 2·n_kv_head)·head_dim and 2·ffn_hidden must stay below 2^31");
  need(n_head % n_kv_head == 0, "n_head (" + std::to_string(n_head) +
                                    ") must be a multiple of n_kv_head (" +
                                    std::to_string(n_kv_head) + ")");
  need(norm_eps > 0, "norm_eps must be positive");
  const ArchFeatures& f = features();
  // A flag the family has no tensors for (Qwen3 has no MLP biases) would be silently ignored.
  bool mlp_bias_tensors = false;
  for (const TensorSpec& t : spec().tensors) mlp_bias_tensors |= t.role == TensorRole::kDownB;
  need(!mlp_bias || mlp_bias_tensors, "a " + arch + " model has no MLP biases (mlp_bias)");
  if (f.pos == PosKind::kLearned) {
    // Learned positions come with GPT-2's plain multi-head attention in every family we read.
    need(n_kv_head == n_head, "GPT-2 has no grouped-query attention (n_kv_head = n_head)");
    need(head_dim * n_head == n_embd, "n_embd (" + std::to_string(n_embd) +
                                          ") must be divisible by n_head (" +
                                          std::to_string(n_head) + ")");
  } else {
    need(head_dim % 2 == 0, "head_dim must be even for RoPE");
    need(rope_theta > 0, "rope_theta must be positive");
  }
  need(bos_token_id < vocab_size && eos_token_id < vocab_size,
       "bos/eos token id beyond vocab_size");
}

}  // namespace lmforge
