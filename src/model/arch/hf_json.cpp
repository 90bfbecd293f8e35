// Typed config.json reads shared by the family specs (see hf_json.h), and the keys the RoPE
// families (llama, qwen3) share. The defaults follow transformers' configs for keys a checkpoint
// may omit (num_key_value_heads → num_attention_heads, head_dim → C/NH, ...).
#include "hf_json.h"

#include <cmath>
#include <cstdint>

#include "lmforge/core/error.h"
#include "lmforge/model/config.h"

namespace lmforge::hf {

using json = nlohmann::json;

int get_int(const json& j, const char* key, const std::string& file, int fallback, bool required) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) throw InputError(file, 0, key, "missing", "a HF config.json needs this key");
    return fallback;
  }
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < -1 || v.get<int64_t>() > (1ll << 31) - 1)
    throw InputError(file, 0, key, "expected an integer, got " + v.dump());
  return v.get<int>();
}

float get_float(const json& j, const char* key, const std::string& file, float fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number())
    throw InputError(file, 0, key, "expected a number, got " + j[key].dump());
  const float v = j[key].get<float>();
  if (!std::isfinite(v))
    throw InputError(file, 0, key, "expected a finite number, got " + j[key].dump());
  return v;
}

// (json::value() would throw a bare type_error.302 on another type.)
std::string get_string(const json& j, const char* key, const std::string& file,
                       const std::string& fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_string())
    throw InputError(file, 0, key, "expected a string, got " + j[key].dump());
  return j[key].get<std::string>();
}

bool get_bool(const json& j, const char* key, const std::string& file, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean())
    throw InputError(file, 0, key, "expected true/false, got " + j[key].dump());
  return j[key].get<bool>();
}

int get_token_id(const json& j, const char* key, const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return -1;
  const json& v = j[key];
  const json& id = v.is_array() && !v.empty() ? v[0] : v;
  if (id.is_number_integer() && id.get<int64_t>() >= -1 && id.get<int64_t>() <= INT32_MAX)
    return id.get<int>();
  throw InputError(file, 0, key, "expected a token id, got " + v.dump());
}

void refuse_if(const json& j, const char* key, const std::string& file, bool bad,
               const std::string& why) {
  if (bad)
    throw InputError(file, 0, key, why + " (value " + j[key].dump() + ")",
                     "lmforge cannot load this checkpoint faithfully");
}

void check_rope_scaling(const json& j, const std::string& file) {
  if (!j.contains("rope_scaling") || j["rope_scaling"].is_null()) return;
  const json& r = j["rope_scaling"];
  std::string type;
  if (r.is_object()) {
    if (r.contains("rope_type") && r["rope_type"].is_string())
      type = r["rope_type"];
    else if (r.contains("type") && r["type"].is_string())
      type = r["type"];
  }
  if (type == "default") return;
  throw InputError(file, 0, "rope_scaling",
                   "RoPE scaling" + (type.empty() ? std::string() : " type '" + type + "'") +
                       " is not supported",
                   "lmforge implements plain RoPE: use \"rope_scaling\": null (or rope_type "
                   "\"default\")");
}

json token_json(int id) {
  return id >= 0 ? json(id) : json(nullptr);
}

void read_rope_family(ModelConfig& c, const json& j, const std::string& file) {
  c.n_embd = get_int(j, "hidden_size", file, 0, true);
  c.n_layer = get_int(j, "num_hidden_layers", file, 0, true);
  c.n_head = get_int(j, "num_attention_heads", file, 0, true);
  c.n_kv_head = get_int(j, "num_key_value_heads", file, c.n_head, false);
  c.ffn_hidden = get_int(j, "intermediate_size", file, 0, true);
  c.n_ctx = get_int(j, "max_position_embeddings", file, 0, true);
  c.vocab_size = get_int(j, "vocab_size", file, 0, true);
  c.norm_eps = get_float(j, "rms_norm_eps", file, 1e-6f);
  c.rope_theta = get_float(j, "rope_theta", file, 10000.0f);
  c.head_dim = get_int(j, "head_dim", file, c.n_head > 0 ? c.n_embd / c.n_head : 0, false);
  std::string act = get_string(j, "hidden_act", file, "silu");
  if (act != "silu")
    throw InputError(file, 0, "hidden_act", "unsupported activation '" + act + "'",
                     "lmforge's RoPE families use SwiGLU (silu)");
  check_rope_scaling(j, file);
  c.tie_embeddings = get_bool(j, "tie_word_embeddings", file, false);
  c.bos_token_id = get_token_id(j, "bos_token_id", file);
  c.eos_token_id = get_token_id(j, "eos_token_id", file);
}

json write_rope_family(const ModelConfig& c) {
  return {{"hidden_size", c.n_embd},
          {"num_hidden_layers", c.n_layer},
          {"num_attention_heads", c.n_head},
          {"num_key_value_heads", c.n_kv_head},
          {"intermediate_size", c.ffn_hidden},
          {"max_position_embeddings", c.n_ctx},
          {"vocab_size", c.vocab_size},
          {"rms_norm_eps", c.norm_eps},
          {"rope_theta", c.rope_theta},
          {"rope_scaling", nullptr},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", c.tie_embeddings}};
}

}  // namespace lmforge::hf
