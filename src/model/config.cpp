// ModelConfig: HF config.json mapping, presets and validation.
// The HF keys follow transformers' GPT2Config and LlamaConfig, including their defaults for
// keys a checkpoint may omit (n_inner → 4C, num_key_value_heads → num_attention_heads, ...).
#include "lmforge/model/config.h"

#include <cmath>
#include <cstdint>

#include "lmforge/core/error.h"

namespace lmforge {
namespace {

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

// A string key (json::value() would throw a bare type_error.302 on another type).
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

// bos/eos may be an int or a list (HF allows several eos ids); we keep the first.
int get_token_id(const json& j, const char* key, const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return -1;
  const json& v = j[key];
  const json& id = v.is_array() && !v.empty() ? v[0] : v;
  if (id.is_number_integer() && id.get<int64_t>() >= -1 && id.get<int64_t>() <= INT32_MAX)
    return id.get<int>();
  throw InputError(file, 0, key, "expected a token id, got " + v.dump());
}

// "gpt2", or the Llama-architecture family ("llama", "qwen2", "mistral").
std::string detect_family(const json& j, const std::string& file) {
  std::string mt = j.contains("model_type") && j["model_type"].is_string()
                       ? j["model_type"].get<std::string>()
                       : "";
  std::string arch0;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    arch0 = j["architectures"][0].get<std::string>();
  if (mt == "gpt2" || (mt.empty() && arch0 == "GPT2LMHeadModel")) return "gpt2";
  if (mt == "llama" || (mt.empty() && arch0 == "LlamaForCausalLM")) return "llama";
  if (mt == "qwen2" || (mt.empty() && arch0 == "Qwen2ForCausalLM")) return "qwen2";
  if (mt == "mistral" || (mt.empty() && arch0 == "MistralForCausalLM")) return "mistral";
  throw InputError(file, 0, "model_type",
                   "unsupported model type '" + mt + "' (architectures: '" + arch0 + "')",
                   "lmforge loads GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM and "
                   "MistralForCausalLM checkpoints");
}

// Keys whose presence with a non-default value changes the math in ways lmforge does not
// implement; refused by name rather than silently ignored.
void refuse_if(const json& j, const char* key, const std::string& file, bool bad,
               const std::string& why) {
  if (bad)
    throw InputError(file, 0, key, why + " (value " + j[key].dump() + ")",
                     "lmforge cannot load this checkpoint faithfully");
}

// rope_scaling: null or {"rope_type"|"type": "default"} is plain RoPE; every real scaling
// (linear, dynamic, yarn, llama3, longrope) changes the frequencies and is refused by name.
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

}  // namespace

// A function-try-block: a JSON access this function does not check itself (a bug) still becomes an
// InputError naming the file rather than a bare json exception.
ModelConfig ModelConfig::from_hf_json(const json& j, const std::string& file) try {
  if (!j.is_object()) throw InputError(file, 0, "", "config.json must be a JSON object");
  ModelConfig c;
  const std::string family = detect_family(j, file);
  c.arch = family == "gpt2" ? "gpt2" : "llama";
  if (c.arch == "gpt2") {
    c.n_embd = get_int(j, "n_embd", file, 0, true);
    c.n_layer = get_int(j, "n_layer", file, 0, true);
    c.n_head = get_int(j, "n_head", file, 0, true);
    c.n_kv_head = c.n_head;
    c.n_ctx = get_int(j, "n_positions", file, get_int(j, "n_ctx", file, 0, false), false);
    if (c.n_ctx <= 0) throw InputError(file, 0, "n_positions", "missing");
    c.vocab_size = get_int(j, "vocab_size", file, 0, true);
    c.norm_eps = get_float(j, "layer_norm_epsilon", file, 1e-5f);
    c.ffn_hidden = get_int(j, "n_inner", file, 4 * c.n_embd, false);
    std::string act = get_string(j, "activation_function", file, "gelu_new");
    if (act != "gelu_new" && act != "gelu_pytorch_tanh")
      throw InputError(file, 0, "activation_function", "unsupported activation '" + act + "'",
                       "lmforge's GPT-2 uses the tanh approximation (gelu_new)");
    c.tie_embeddings = get_bool(j, "tie_word_embeddings", file, true);
    c.attn_bias = c.mlp_bias = true;
    // Variants of GPT-2's attention math that lmforge does not implement.
    if (!get_bool(j, "scale_attn_weights", file, true))
      throw InputError(file, 0, "scale_attn_weights", "unscaled attention is not supported");
    if (get_bool(j, "scale_attn_by_inverse_layer_idx", file, false))
      throw InputError(file, 0, "scale_attn_by_inverse_layer_idx", "not supported",
                       "lmforge scales attention scores by 1/sqrt(head size) only");
    if (j.contains("add_cross_attention"))
      refuse_if(j, "add_cross_attention", file, get_bool(j, "add_cross_attention", file, false),
                "cross-attention (an encoder-decoder GPT-2) is not supported");
    c.head_dim = c.n_head > 0 ? c.n_embd / c.n_head : 0;
    c.bos_token_id = get_token_id(j, "bos_token_id", file);
    c.eos_token_id = get_token_id(j, "eos_token_id", file);
  } else {
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
                       "lmforge's Llama uses SwiGLU (silu)");
    check_rope_scaling(j, file);
    c.hf_family = family;
    if (family == "qwen2") {
      // Qwen2 always has q/k/v biases and never an o_proj bias; its config has no such key.
      c.attn_bias = true;
      c.attn_out_bias = false;
      c.mlp_bias = false;
      if (j.contains("use_sliding_window"))
        refuse_if(j, "use_sliding_window", file, get_bool(j, "use_sliding_window", file, false),
                  "sliding-window attention is not supported");
    } else {
      c.attn_bias = get_bool(j, "attention_bias", file, false);
      c.mlp_bias = get_bool(j, "mlp_bias", file, false);
    }
    if (family == "mistral" && j.contains("sliding_window") && !j["sliding_window"].is_null()) {
      const int w = get_int(j, "sliding_window", file, 0, false);
      refuse_if(j, "sliding_window", file, w < c.n_ctx,
                "a sliding window shorter than max_position_embeddings is not supported");
    }
    c.tie_embeddings = get_bool(j, "tie_word_embeddings", file, false);
    c.bos_token_id = get_token_id(j, "bos_token_id", file);
    c.eos_token_id = get_token_id(j, "eos_token_id", file);
  }
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
  json j;
  if (arch == "gpt2") {
    j = {{"architectures", {"GPT2LMHeadModel"}},
         {"model_type", "gpt2"},
         {"n_embd", n_embd},
         {"n_layer", n_layer},
         {"n_head", n_head},
         {"n_positions", n_ctx},
         {"n_ctx", n_ctx},
         {"vocab_size", vocab_size},
         {"layer_norm_epsilon", norm_eps},
         {"n_inner", ffn_hidden},
         {"activation_function", "gelu_new"},
         {"tie_word_embeddings", tie_embeddings},
         {"resid_pdrop", 0.0},
         {"embd_pdrop", 0.0},
         {"attn_pdrop", 0.0}};
  } else if (hf_family == "qwen2" && !attn_out_bias) {
    j = {{"architectures", {"Qwen2ForCausalLM"}},
         {"model_type", "qwen2"},
         {"hidden_size", n_embd},
         {"num_hidden_layers", n_layer},
         {"num_attention_heads", n_head},
         {"num_key_value_heads", n_kv_head},
         {"intermediate_size", ffn_hidden},
         {"max_position_embeddings", n_ctx},
         {"vocab_size", vocab_size},
         {"rms_norm_eps", norm_eps},
         {"rope_theta", rope_theta},
         {"rope_scaling", nullptr},
         {"hidden_act", "silu"},
         {"use_sliding_window", false},
         {"tie_word_embeddings", tie_embeddings}};
    if (head_dim * n_head != n_embd) j["head_dim"] = head_dim;
  } else {
    const bool mistral = hf_family == "mistral" && attn_bias == false && mlp_bias == false;
    j = {{"architectures", {mistral ? "MistralForCausalLM" : "LlamaForCausalLM"}},
         {"model_type", mistral ? "mistral" : "llama"},
         {"hidden_size", n_embd},
         {"num_hidden_layers", n_layer},
         {"num_attention_heads", n_head},
         {"num_key_value_heads", n_kv_head},
         {"intermediate_size", ffn_hidden},
         {"max_position_embeddings", n_ctx},
         {"vocab_size", vocab_size},
         {"rms_norm_eps", norm_eps},
         {"rope_theta", rope_theta},
         {"rope_scaling", nullptr},
         {"head_dim", head_dim},
         {"hidden_act", "silu"},
         {"attention_bias", attn_bias},
         {"mlp_bias", mlp_bias},
         {"tie_word_embeddings", tie_embeddings}};
    if (mistral) j["sliding_window"] = nullptr;
  }
  j["bos_token_id"] = token_json(bos_token_id);
  j["eos_token_id"] = token_json(eos_token_id);
  j["torch_dtype"] = "float32";
  return j;
}

const char* ModelConfig::preset_names() {
  return "tiny, small, gpt2-124m, llama-tiny, llama-small";
}

ModelConfig ModelConfig::preset(const std::string& name, int vocab_size) {
  ModelConfig c;
  c.vocab_size = vocab_size;
  auto gpt2 = [&](int L, int H, int C, int ctx) {
    c.arch = "gpt2";
    c.n_layer = L;
    c.n_head = c.n_kv_head = H;
    c.n_embd = C;
    c.head_dim = C / H;
    c.ffn_hidden = 4 * C;
    c.n_ctx = ctx;
    c.norm_eps = 1e-5f;
    c.tie_embeddings = c.attn_bias = c.mlp_bias = true;
  };
  auto llama = [&](int L, int H, int KV, int C, int FF, int ctx) {
    c.arch = "llama";
    c.n_layer = L;
    c.n_head = H;
    c.n_kv_head = KV;
    c.n_embd = C;
    c.head_dim = C / H;
    c.ffn_hidden = FF;
    c.n_ctx = ctx;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tie_embeddings = c.attn_bias = c.mlp_bias = false;
  };
  if (name == "tiny") {
    gpt2(4, 4, 128, 128);
  } else if (name == "small") {
    gpt2(6, 6, 384, 256);
  } else if (name == "gpt2-124m") {
    gpt2(12, 12, 768, 1024);
  } else if (name == "llama-tiny") {
    llama(4, 4, 2, 128, 344, 128);
  } else if (name == "llama-small") {
    llama(6, 6, 2, 384, 1024, 256);
  } else {
    throw UsageError("unknown preset '" + name + "' (valid: " + preset_names() + ")");
  }
  c.validate();
  return c;
}

int64_t ModelConfig::num_params() const {
  const int64_t C = n_embd, V = vocab_size, L = n_layer, FF = ffn_hidden;
  const int64_t QKV = qkv_dim(), A = attn_dim();
  const bool llama = is_llama();
  int64_t n = V * C;                    // token embedding
  if (!llama) n += int64_t(n_ctx) * C;  // learned positions
  if (!tie_embeddings) n += V * C;      // separate head
  const int64_t norm = llama ? C : 2 * C;
  int64_t layer = 2 * norm;
  layer += QKV * C + (attn_bias ? QKV : 0);  // q, k, v
  layer += C * A + (attn_bias ? C : 0);      // attention output
  const int64_t up = llama ? 2 * FF : FF;    // SwiGLU has gate and up
  layer += up * C + (mlp_bias ? up : 0);
  layer += C * FF + (mlp_bias ? C : 0);  // down
  return n + L * layer + norm;           // + final norm
}

void ModelConfig::validate() const {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw UsageError("invalid model config: " + msg);
  };
  need(arch == "gpt2" || arch == "llama", "arch must be gpt2 or llama, got '" + arch + "'");
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
  if (arch == "gpt2") {
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
