// The way back from a GGUF file lmforge wrote (or one llama.cpp's converter wrote for the same
// architectures) to a Transformer: hyper-parameters from the metadata, tensors by llama.cpp name,
// dequantized to f32, permuted Q/K rows (the spec's gguf_permuted) returned to HF's rotate-half
// order. The export tests use it to show that the file holds exactly the source model. Not here:
// the container parser (io/gguf.cpp), any llama.cpp architecture no spec names (model/arch.h).
#include "lmforge/core/error.h"
#include "lmforge/model/arch.h"
#include "lmforge/model/export.h"

namespace lmforge {
namespace {

int get_u(const GgufFile& g, const std::string& key) {
  const GgufValue& v = g.get(key);
  int64_t x;
  try {
    x = v.as_int();
  } catch (const UsageError& e) {
    throw InputError(g.path(), 0, key, e.what());
  }
  if (x < 0 || x > (1ll << 31) - 1)
    throw InputError(g.path(), 0, key, "value " + std::to_string(x) + " is out of range");
  return int(x);
}

float get_f(const GgufFile& g, const std::string& key, float fallback) {
  if (!g.has_key(key)) return fallback;
  const GgufValue& v = g.get(key);
  if (v.type != GgufType::kF32 && v.type != GgufType::kF64)
    throw InputError(g.path(), 0, key, "expected a float");
  return float(v.f);
}

}  // namespace

ModelConfig config_from_gguf(const GgufFile& g) {
  const GgufValue& a = g.get("general.architecture");
  const ArchSpec* spec = nullptr;
  std::string known;
  for (const ArchSpec* s : arch_specs()) {
    if (a.type == GgufType::kString && a.s == s->gguf_arch) spec = s;
    known += (known.empty() ? "" : ", ") + std::string(s->gguf_arch);
  }
  if (!spec)
    throw InputError(g.path(), 0, "general.architecture",
                     "unsupported architecture " + a.to_string(), "lmforge reads " + known);
  const std::string arch = a.s;
  auto key = [&](const std::string& k) { return arch + "." + k; };
  ModelConfig c;
  c.arch = spec->name;
  c.n_ctx = get_u(g, key("context_length"));
  c.n_embd = get_u(g, key("embedding_length"));
  c.n_layer = get_u(g, key("block_count"));
  c.ffn_hidden = get_u(g, key("feed_forward_length"));
  c.n_head = get_u(g, key("attention.head_count"));
  const GgufFile::Tensor& emb = g.tensor("token_embd.weight");
  if (emb.ne.size() != 2) throw InputError(g.path(), 0, "token_embd.weight", "must be 2-D");
  c.vocab_size = int(emb.ne[1]);
  c.tie_embeddings = !g.has_tensor("output.weight");
  if (!spec->features.rope()) {
    c.n_kv_head = c.n_head;
    c.head_dim = c.n_head > 0 ? c.n_embd / c.n_head : 0;
    c.norm_eps = get_f(g, key("attention.layer_norm_epsilon"), 1e-5f);
    c.attn_bias = c.mlp_bias = true;
  } else {
    c.n_kv_head = g.has_key(key("attention.head_count_kv"))
                      ? get_u(g, key("attention.head_count_kv"))
                      : c.n_head;
    c.head_dim = g.has_key(key("attention.key_length")) ? get_u(g, key("attention.key_length"))
                                                        : (c.n_head > 0 ? c.n_embd / c.n_head : 0);
    if (g.has_key(key("rope.dimension_count")) &&
        get_u(g, key("rope.dimension_count")) != c.head_dim)
      throw InputError(g.path(), 0, key("rope.dimension_count"),
                       "partial rotary embeddings are not supported");
    c.norm_eps = get_f(g, key("attention.layer_norm_rms_epsilon"), 1e-6f);
    c.rope_theta = get_f(g, key("rope.freq_base"), 10000.0f);
    c.attn_bias = g.has_tensor("blk.0.attn_q.bias");
    c.attn_out_bias = !c.attn_bias || g.has_tensor("blk.0.attn_output.bias");
    c.mlp_bias = g.has_tensor("blk.0.ffn_up.bias");
    c.hf_family = spec->hf_types.front().first;  // (the llama spec writes Qwen2 by its biases)
  }
  if (g.has_key("tokenizer.ggml.bos_token_id"))
    c.bos_token_id = get_u(g, "tokenizer.ggml.bos_token_id");
  if (g.has_key("tokenizer.ggml.eos_token_id"))
    c.eos_token_id = get_u(g, "tokenizer.ggml.eos_token_id");
  try {
    c.validate();
  } catch (const UsageError& e) {
    throw InputError(g.path(), 0, "", e.what(), "the GGUF hyper-parameters are inconsistent");
  }
  return c;
}

Transformer transformer_from_gguf(const GgufFile& g) {
  Transformer m(config_from_gguf(g));
  const ModelConfig& c = m.config();
  std::vector<float> tmp;
  size_t used = 0;
  for (const TensorInfo& t : m.params().entries()) {
    const std::string gname = gguf_tensor_name(c, t.name);
    if (absent_on_disk(c, t.name)) continue;  // Qwen2: zero
    const GgufFile::Tensor& gt = g.tensor(gname);
    const std::vector<int64_t> want(t.shape.rbegin(), t.shape.rend());
    if (gt.ne != want)
      throw InputError(
          g.path(), 0, gname,
          "shape " + shape_str(gt.ne) + ", expected " + shape_str(want) + " (innermost first)");
    float* dst = m.params().get(t.name);
    int layer = -1;
    const TensorSpec* ts = find_tensor(c, t.name, &layer);
    if (ts && ts->gguf_permuted) {
      const bool is_q = ts->role == TensorRole::kQW || ts->role == TensorRole::kQB;
      tmp.resize(t.numel);
      g.read_f32(gname, tmp.data(), t.numel);
      const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
      permute_rope_rows(tmp.data(), dst, is_q ? c.n_head : c.n_kv_head, c.head_dim, cols, true);
    } else {
      g.read_f32(gname, dst, t.numel);
    }
    ++used;
  }
  if (used != g.tensors().size())
    throw InputError(g.path(), 0, "",
                     std::to_string(g.tensors().size() - used) +
                         " tensors in the file are not part of the model",
                     "the file has tensors this configuration does not use");
  return m;
}

}  // namespace lmforge
