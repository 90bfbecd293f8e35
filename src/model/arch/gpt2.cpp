// The GPT-2 family spec (model/arch.h): learned positions, LayerNorm with bias, tanh-GELU MLP,
// biases everywhere, one packed c_attn; HF's Conv1D stores the four block matrices (in, out).
// Reads GPT2LMHeadModel config.json (transformers' GPT2Config defaults). Not here: the math
// (model/transformer.cpp), the GGUF writer (model/export_gguf.cpp).
#include "hf_json.h"
#include "lmforge/core/error.h"
#include "lmforge/model/arch.h"

namespace lmforge {
namespace {

using json = nlohmann::json;
using R = TensorRole;

void from_hf(ModelConfig& c, const json& j, const std::string& file, const std::string&) {
  using namespace hf;
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
}

json to_hf(const ModelConfig& c) {
  return {{"architectures", {"GPT2LMHeadModel"}},
          {"model_type", "gpt2"},
          {"n_embd", c.n_embd},
          {"n_layer", c.n_layer},
          {"n_head", c.n_head},
          {"n_positions", c.n_ctx},
          {"n_ctx", c.n_ctx},
          {"vocab_size", c.vocab_size},
          {"layer_norm_epsilon", c.norm_eps},
          {"n_inner", c.ffn_hidden},
          {"activation_function", "gelu_new"},
          {"tie_word_embeddings", c.tie_embeddings},
          {"resid_pdrop", 0.0},
          {"embd_pdrop", 0.0},
          {"attn_pdrop", 0.0}};
}

ModelConfig gpt2(int vocab_size, int L, int H, int C, int ctx) {
  ModelConfig c;
  c.arch = "gpt2";
  c.vocab_size = vocab_size;
  c.n_layer = L;
  c.n_head = c.n_kv_head = H;
  c.n_embd = C;
  c.head_dim = C / H;
  c.ffn_hidden = 4 * C;
  c.n_ctx = ctx;
  c.norm_eps = 1e-5f;
  c.tie_embeddings = c.attn_bias = c.mlp_bias = true;
  return c;
}

}  // namespace

const ArchSpec& gpt2_spec() {
  static const ArchSpec s = {
      "gpt2",
      {NormKind::kLayerNorm, MlpKind::kGelu, PosKind::kLearned, false},
      {{"gpt2", "GPT2LMHeadModel"}},
      from_hf,
      to_hf,
      "transformer.h.",
      {
          {R::kEmbed, "transformer.wte.weight", "token_embd.weight"},
          {R::kPosEmbed, "transformer.wpe.weight", "position_embd.weight"},
          {R::kNorm1W, "ln_1.weight", "attn_norm.weight"},
          {R::kNorm1B, "ln_1.bias", "attn_norm.bias"},
          {R::kQKVW, "attn.c_attn.weight", "attn_qkv.weight", true},
          {R::kQKVB, "attn.c_attn.bias", "attn_qkv.bias"},
          {R::kOW, "attn.c_proj.weight", "attn_output.weight", true},
          {R::kOB, "attn.c_proj.bias", "attn_output.bias"},
          {R::kNorm2W, "ln_2.weight", "ffn_norm.weight"},
          {R::kNorm2B, "ln_2.bias", "ffn_norm.bias"},
          {R::kUpW, "mlp.c_fc.weight", "ffn_up.weight", true},
          {R::kUpB, "mlp.c_fc.bias", "ffn_up.bias"},
          {R::kDownW, "mlp.c_proj.weight", "ffn_down.weight", true},
          {R::kDownB, "mlp.c_proj.bias", "ffn_down.bias"},
          {R::kNormFW, "transformer.ln_f.weight", "output_norm.weight"},
          {R::kNormFB, "transformer.ln_f.bias", "output_norm.bias"},
          {R::kHead, "lm_head.weight", "output.weight"},
      },
      "gpt2",
      {{"tiny", [](int v) { return gpt2(v, 4, 4, 128, 128); }},
       {"small", [](int v) { return gpt2(v, 6, 6, 384, 256); }},
       {"gpt2-124m", [](int v) { return gpt2(v, 12, 12, 768, 1024); }}},
      {{"attn_qkv", "attn.c_attn", R::kQKVW},
       {"attn_o", "attn.c_proj", R::kOW},
       {"ffn_up", "mlp.c_fc", R::kUpW},
       {"ffn_down", "mlp.c_proj", R::kDownW}},
      "attn_qkv",
      false,
  };
  return s;
}

}  // namespace lmforge
