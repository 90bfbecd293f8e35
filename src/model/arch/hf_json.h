// Typed reads of Hugging Face config.json keys for the family specs (src/model/arch/*.cpp): each
// throws InputError(file, 0, key, ...) naming the key on a missing required or ill-typed value.
// Not here: which keys a family reads (its spec file).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace lmforge::hf {

int get_int(const nlohmann::json& j, const char* key, const std::string& file, int fallback,
            bool required);
float get_float(const nlohmann::json& j, const char* key, const std::string& file, float fallback);
std::string get_string(const nlohmann::json& j, const char* key, const std::string& file,
                       const std::string& fallback);
bool get_bool(const nlohmann::json& j, const char* key, const std::string& file, bool fallback);
// bos/eos may be an int or a list (HF allows several eos ids); the first is kept. -1: absent.
int get_token_id(const nlohmann::json& j, const char* key, const std::string& file);
// Refuses (InputError naming the key and its value) when bad: a variant lmforge does not implement.
void refuse_if(const nlohmann::json& j, const char* key, const std::string& file, bool bad,
               const std::string& why);
// rope_scaling: null or {"rope_type"|"type": "default"} is plain RoPE; every real scaling
// (linear, dynamic, yarn, llama3, longrope) is refused by name.
void check_rope_scaling(const nlohmann::json& j, const std::string& file);
nlohmann::json token_json(int id);  // an id, or null for -1
}  // namespace lmforge::hf

namespace lmforge {
struct ModelConfig;
namespace hf {
// The keys every RoPE + RMSNorm + SwiGLU family shares (hidden_size, num_hidden_layers, heads,
// intermediate_size, max_position_embeddings, vocab_size, rms_norm_eps, rope_theta, head_dim,
// hidden_act == silu, rope_scaling, tie_word_embeddings, bos/eos).
void read_rope_family(ModelConfig& c, const nlohmann::json& j, const std::string& file);
// The matching config.json keys (architectures and model_type are the caller's).
nlohmann::json write_rope_family(const ModelConfig& c);
}  // namespace hf
}  // namespace lmforge
