// ModelConfig: HF config.json round trips for every family (GPT-2, Llama/Qwen2/Mistral, Qwen3),
// parameter counts of known models, and errors that name the offending key.
#include "lmforge/model/config.h"

#include <gtest/gtest.h>

#include "lmforge/core/error.h"

using namespace lmforge;
using json = nlohmann::json;

namespace {
void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.n_ctx, b.n_ctx);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.n_head, b.n_head);
  EXPECT_EQ(a.n_kv_head, b.n_kv_head);
  EXPECT_EQ(a.n_embd, b.n_embd);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.ffn_hidden, b.ffn_hidden);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.tie_embeddings, b.tie_embeddings);
  EXPECT_EQ(a.attn_bias, b.attn_bias);
  EXPECT_EQ(a.mlp_bias, b.mlp_bias);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_id, b.eos_token_id);
}

std::string error_field(const json& j) {
  try {
    ModelConfig::from_hf_json(j, "config.json");
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "config.json");
    return e.field();
  }
  return "<no error>";
}
}  // namespace

TEST(Config, PresetsRoundTripThroughHfJson) {
  for (const char* name :
       {"tiny", "small", "gpt2-124m", "llama-tiny", "llama-small", "qwen3-tiny"}) {
    ModelConfig c = ModelConfig::preset(name, 4096);
    c.bos_token_id = 1;
    c.eos_token_id = 2;
    json j = c.to_hf_json();
    ModelConfig back = ModelConfig::from_hf_json(json::parse(j.dump()), "config.json");
    SCOPED_TRACE(name);
    expect_same(c, back);
  }
  ModelConfig g = ModelConfig::preset("small", 8192);
  json j = g.to_hf_json();
  EXPECT_EQ(j["architectures"][0], "GPT2LMHeadModel");
  EXPECT_EQ(j["activation_function"], "gelu_new");
  EXPECT_EQ(j["n_positions"], 256);
  EXPECT_TRUE(j["bos_token_id"].is_null());
  ModelConfig l = ModelConfig::preset("llama-small", 8192);
  EXPECT_EQ(l.n_kv_head, 2);
  EXPECT_FALSE(l.tie_embeddings);
  j = l.to_hf_json();
  EXPECT_EQ(j["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(j["num_key_value_heads"], 2);
  EXPECT_EQ(j["hidden_act"], "silu");
  EXPECT_EQ(j["torch_dtype"], "float32");
}

TEST(Config, KnownParameterCounts) {
  // GPT-2 small as published by OpenAI / HF: 124,439,808 parameters (tied head).
  json gpt2 = {{"architectures", {"GPT2LMHeadModel"}},
               {"model_type", "gpt2"},
               {"n_embd", 768},
               {"n_layer", 12},
               {"n_head", 12},
               {"n_positions", 1024},
               {"n_ctx", 1024},
               {"vocab_size", 50257},
               {"n_inner", nullptr},
               {"activation_function", "gelu_new"},
               {"layer_norm_epsilon", 1e-5},
               {"bos_token_id", 50256},
               {"eos_token_id", 50256}};
  ModelConfig g = ModelConfig::from_hf_json(gpt2, "gpt2/config.json");
  EXPECT_EQ(g.ffn_hidden, 3072);
  EXPECT_TRUE(g.tie_embeddings);
  EXPECT_EQ(g.num_params(), 124439808);
  EXPECT_EQ(ModelConfig::preset("gpt2-124m", 50257).num_params(), 124439808);
  // SmolLM-135M (Llama, GQA 9/3, tied): 134,515,008 parameters.
  json smol = {{"architectures", {"LlamaForCausalLM"}},
               {"model_type", "llama"},
               {"hidden_size", 576},
               {"num_hidden_layers", 30},
               {"num_attention_heads", 9},
               {"num_key_value_heads", 3},
               {"intermediate_size", 1536},
               {"max_position_embeddings", 2048},
               {"vocab_size", 49152},
               {"rms_norm_eps", 1e-5},
               {"rope_theta", 10000.0},
               {"rope_scaling", nullptr},
               {"hidden_act", "silu"},
               {"tie_word_embeddings", true},
               {"bos_token_id", 0},
               {"eos_token_id", 0}};
  ModelConfig s = ModelConfig::from_hf_json(smol, "smol/config.json");
  EXPECT_EQ(s.head_dim, 64);
  EXPECT_FALSE(s.attn_bias);
  EXPECT_EQ(s.num_params(), 134515008);
}

TEST(Config, Qwen3) {
  // Qwen3-0.6B's config.json: 596,049,920 parameters (0.44B without the tied embedding), with
  // q/k norms (2·128 per layer) and head_dim 128 ≠ 1024/16.
  json q = {{"architectures", {"Qwen3ForCausalLM"}},
            {"model_type", "qwen3"},
            {"attention_bias", false},
            {"head_dim", 128},
            {"hidden_act", "silu"},
            {"hidden_size", 1024},
            {"intermediate_size", 3072},
            {"max_position_embeddings", 40960},
            {"max_window_layers", 28},
            {"num_attention_heads", 16},
            {"num_hidden_layers", 28},
            {"num_key_value_heads", 8},
            {"rms_norm_eps", 1e-6},
            {"rope_scaling", nullptr},
            {"rope_theta", 1000000},
            {"sliding_window", nullptr},
            {"tie_word_embeddings", true},
            {"use_sliding_window", false},
            {"vocab_size", 151936},
            {"bos_token_id", 151643},
            {"eos_token_id", 151645}};
  ModelConfig c = ModelConfig::from_hf_json(q, "qwen3/config.json");
  EXPECT_EQ(c.arch, "qwen3");
  EXPECT_TRUE(c.features().qk_norm);
  EXPECT_TRUE(c.features().rms() && c.features().rope() && c.features().swiglu());
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.num_params(), 596049920);
  json back = c.to_hf_json();
  EXPECT_EQ(back["architectures"][0], "Qwen3ForCausalLM");
  EXPECT_EQ(back["head_dim"], 128);
  expect_same(c, ModelConfig::from_hf_json(back, "config.json"));
  // transformers' Qwen3Config defaults head_dim to 128, not hidden/heads.
  q.erase("head_dim");
  q["hidden_size"] = 512;
  EXPECT_EQ(ModelConfig::from_hf_json(q, "config.json").head_dim, 128);
  q["use_sliding_window"] = true;
  EXPECT_EQ(error_field(q), "use_sliding_window");
  q["use_sliding_window"] = false;
  q["model_type"] = "qwen3_moe";
  EXPECT_EQ(error_field(q), "model_type");
  // The preset keeps its head size (64 ≠ 128/4) and ties the head, as Qwen3-0.6B does.
  ModelConfig t = ModelConfig::preset("qwen3-tiny", 300);
  EXPECT_EQ(t.head_dim, 64);
  EXPECT_NE(t.head_dim * t.n_head, t.n_embd);
  EXPECT_TRUE(t.tie_embeddings);
}

TEST(Config, BadFieldsNameTheKey) {
  json base = ModelConfig::preset("llama-tiny", 100).to_hf_json();
  json j = base;
  j["hidden_size"] = "wide";
  EXPECT_EQ(error_field(j), "hidden_size");
  j = base;
  j.erase("num_hidden_layers");
  EXPECT_EQ(error_field(j), "num_hidden_layers");
  j = base;
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_EQ(error_field(j), "rope_scaling");
  j = base;
  j["hidden_act"] = "relu";
  EXPECT_EQ(error_field(j), "hidden_act");
  j = base;
  j["model_type"] = "mamba";
  j["architectures"] = {"MambaForCausalLM"};
  EXPECT_EQ(error_field(j), "model_type");
  j = base;
  j["num_key_value_heads"] = 3;  // 4 heads are not divisible into 3 groups
  EXPECT_EQ(error_field(j), "");
  j = base;
  j["tie_word_embeddings"] = 1;
  EXPECT_EQ(error_field(j), "tie_word_embeddings");
  json g = ModelConfig::preset("tiny", 100).to_hf_json();
  g["activation_function"] = "relu";
  EXPECT_EQ(error_field(g), "activation_function");
  EXPECT_EQ(error_field(json::array()), "");
}

TEST(Config, PresetAndValidateErrors) {
  try {
    ModelConfig::preset("huge", 100);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("llama-small"), std::string::npos) << e.what();
  }
  ModelConfig c = ModelConfig::preset("tiny", 100);
  c.n_head = 3;
  c.n_kv_head = 3;
  EXPECT_THROW(c.validate(), UsageError);  // 128 not divisible by 3
  c = ModelConfig::preset("tiny", 100);
  c.vocab_size = 0;
  EXPECT_THROW(c.validate(), UsageError);
  c = ModelConfig::preset("llama-tiny", 100);
  c.head_dim = 31;
  EXPECT_THROW(c.validate(), UsageError);
}

// Families beyond the two lmforge writes: Qwen2 (q/k/v biases, no o_proj bias, no such key in its
// config) and Mistral without a sliding window load; each unsupported field is refused by name,
// and the message names the rope scaling type.
TEST(Config, Qwen2MistralAndRefusedFields) {
  json q = {{"architectures", {"Qwen2ForCausalLM"}},
            {"model_type", "qwen2"},
            {"hidden_size", 64},
            {"intermediate_size", 96},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"max_position_embeddings", 128},
            {"vocab_size", 100},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", 1e6},
            {"hidden_act", "silu"},
            {"tie_word_embeddings", true},
            {"use_sliding_window", false},
            {"sliding_window", 4096},
            {"max_window_layers", 21}};
  ModelConfig c = ModelConfig::from_hf_json(q, "config.json");
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.hf_family, "qwen2");
  EXPECT_TRUE(c.attn_bias);
  EXPECT_FALSE(c.attn_out_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_EQ(c.head_dim, 16);
  json back = c.to_hf_json();
  EXPECT_EQ(back["model_type"], "qwen2");
  EXPECT_FALSE(back.contains("attention_bias"));
  expect_same(ModelConfig::from_hf_json(back, "config.json"), c);

  json sw = q;
  sw["use_sliding_window"] = true;
  EXPECT_EQ(error_field(sw), "use_sliding_window");

  json m = ModelConfig::preset("llama-tiny", 100).to_hf_json();
  m["model_type"] = "mistral";
  m["architectures"] = {"MistralForCausalLM"};
  m["sliding_window"] = nullptr;
  EXPECT_EQ(ModelConfig::from_hf_json(m, "config.json").hf_family, "mistral");
  m["sliding_window"] = 64;  // shorter than max_position_embeddings (128)
  EXPECT_EQ(error_field(m), "sliding_window");

  json r = ModelConfig::preset("llama-tiny", 100).to_hf_json();
  r["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_NO_THROW(ModelConfig::from_hf_json(r, "config.json"));
  r["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  try {
    ModelConfig::from_hf_json(r, "config.json");
    ADD_FAILURE() << "llama3 rope scaling accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "rope_scaling");
    EXPECT_NE(std::string(e.what()).find("llama3"), std::string::npos) << e.what();
  }

  json g = ModelConfig::preset("tiny", 100).to_hf_json();
  g["add_cross_attention"] = true;
  EXPECT_EQ(error_field(g), "add_cross_attention");
  json other = g;
  other["model_type"] = "gpt_neox";
  other["architectures"] = {"GPTNeoXForCausalLM"};
  EXPECT_EQ(error_field(other), "model_type");
}

// Issue 13 item 17: a wrong JSON type is an InputError naming the key, never a bare
// json type_error.302; non-finite floats and sizes whose int products overflow are refused.
TEST(Config, WrongJsonTypesAndNonFiniteValuesNameTheKey) {
  json g = ModelConfig::preset("tiny", 100).to_hf_json();
  json j = g;
  j["activation_function"] = 5;
  EXPECT_EQ(error_field(j), "activation_function");
  json l = ModelConfig::preset("llama-tiny", 100).to_hf_json();
  j = l;
  j["hidden_act"] = json::array({"silu"});
  EXPECT_EQ(error_field(j), "hidden_act");
  j = l;
  j["rope_theta"] = 1e300;  // inf as a float
  EXPECT_EQ(error_field(j), "rope_theta");
  j = l;
  j["eos_token_id"] = json::array({int64_t(1) << 40});
  EXPECT_EQ(error_field(j), "eos_token_id");
  j = l;
  j["num_attention_heads"] = 65536;
  j["num_key_value_heads"] = 65536;
  j["head_dim"] = 65536;  // (NH + 2·NKV)·HS overflows int
  EXPECT_EQ(error_field(j), "");
}
