// GGUF export for llama.cpp: the `gpt2` and `llama` architectures under llama.cpp's tensor names
// and metadata keys (as its convert_hf_to_gguf.py writes them), the byte-level BPE vocabulary in
// GPT-2's byte-to-unicode form with "a b" merges, token types, special ids and chat template.
// Llama Q/K rows (and Qwen2-style q/k biases) are reordered from HF's rotate-half layout to
// llama.cpp's interleaved one. Matrices take the requested type; norms and biases stay f32.
// Not here: the container format (io/gguf.cpp), the way back (export_gguf_read.cpp).
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/pretokenize.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/model/arch.h"
#include "lmforge/model/export.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// llama_token_type in llama.cpp.
enum TokenType : int32_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5 };

// The GGUF file_type enum (llama_ftype) for the matrices' type.
uint32_t file_type(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return 0;
    case GgmlType::kF16:
      return 1;
    case GgmlType::kQ8_0:
      return 7;
    case GgmlType::kBF16:
      return 32;
  }
  return 0;
}

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  std::string pre;  // llama.cpp's pre-tokenizer name
  std::string chat_template;
  std::map<std::string, int32_t> specials;  // special token text → id
};

// Reads tokenizer.json (and tokenizer_config.json's chat_template) into llama.cpp's form, padded
// with unused tokens up to the model's vocab_size V.
Vocab read_vocab(const fs::path& dir, int V) {
  const fs::path file = dir / "tokenizer.json";
  json t;
  try {
    t = json::parse(read_file(file));
  } catch (const json::exception& e) {
    throw InputError(file.string(), 0, "", std::string("invalid JSON: ") + e.what());
  }
  const json& m = t.contains("model") ? t["model"] : json();
  if (!m.is_object() || m.value("type", std::string("BPE")) != "BPE" || !m.contains("vocab") ||
      !m["vocab"].is_object())
    throw InputError(file.string(), 0, "model",
                     "GGUF export needs a byte-level BPE tokenizer (model.type \"BPE\")");
  Vocab v;
  v.tokens.assign(size_t(V), "");
  v.types.assign(size_t(V), kNormal);
  std::vector<bool> set(size_t(V), false);
  auto place = [&](const std::string& s, int64_t id, int32_t type, const std::string& field) {
    if (id < 0 || id >= V)
      throw InputError(file.string(), 0, field,
                       "token id " + std::to_string(id) + " is outside the model's vocabulary (" +
                           std::to_string(V) + ")");
    v.tokens[size_t(id)] = s;
    v.types[size_t(id)] = type;
    set[size_t(id)] = true;
  };
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    if (!it.value().is_number_integer())
      throw InputError(file.string(), 0, "model.vocab." + it.key(), "id must be an integer");
    place(it.key(), it.value().get<int64_t>(), kNormal, "model.vocab." + it.key());
  }
  if (t.contains("added_tokens") && t["added_tokens"].is_array()) {
    for (const json& a : t["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string())
        throw InputError(file.string(), 0, "added_tokens", "entry needs id and content");
      const bool special = a.value("special", false);
      const std::string content = a["content"].get<std::string>();
      place(content, a["id"].get<int64_t>(), special ? kControl : kUserDefined, "added_tokens");
      if (special) v.specials[content] = a["id"].get<int32_t>();
    }
  }
  for (int i = 0; i < V; ++i)
    if (!set[size_t(i)]) {
      v.tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
      v.types[size_t(i)] = kUnused;
    }
  if (m.contains("merges") && m["merges"].is_array()) {
    for (const json& mg : m["merges"]) {
      if (mg.is_string()) {
        v.merges.push_back(mg.get<std::string>());
      } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
        v.merges.push_back(mg[0].get<std::string>() + " " + mg[1].get<std::string>());
      } else {
        throw InputError(file.string(), 0, "model.merges", "expected \"a b\" or [\"a\", \"b\"]");
      }
    }
  }
  // The split regex decides llama.cpp's pre-tokenizer: GPT-2's is "gpt-2"; cl100k's is what
  // llama.cpp runs as "llama-bpe" (Llama 3's regex, the same pieces on ordinary text).
  const Tokenizer tok = Tokenizer::load(dir);
  if (tok.split_regex() == kGpt2SplitRegex) {
    v.pre = "gpt-2";
  } else if (tok.split_regex() == kCl100kSplitRegex) {
    v.pre = "llama-bpe";
  } else {
    throw InputError(file.string(), 0, "pre_tokenizer",
                     "split regex '" + tok.split_regex() + "' has no llama.cpp equivalent",
                     "GGUF export supports GPT-2's and cl100k's split patterns");
  }
  const fs::path cfg = dir / "tokenizer_config.json";
  if (fs::exists(cfg)) {
    try {
      json c = json::parse(read_file(cfg));
      if (c.contains("chat_template") && c["chat_template"].is_string())
        v.chat_template = c["chat_template"].get<std::string>();
    } catch (const json::exception& e) {
      throw InputError(cfg.string(), 0, "", std::string("invalid JSON: ") + e.what());
    }
  }
  return v;
}

// Is every element zero (a Qwen2 o_proj bias that was never trained)?
bool all_zero(const float* x, size_t n) {
  return std::all_of(x, x + n, [](float f) { return f == 0.0f; });
}

}  // namespace

std::string gguf_tensor_name(const ModelConfig& cfg, const std::string& n) {
  return gguf_name(cfg, n);
}

void permute_rope_rows(const float* src, float* dst, int heads, int head_dim, int64_t cols,
                       bool inverse) {
  const int half = head_dim / 2;
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < half; ++j) {
        const int64_t hf = int64_t(h) * head_dim + i * half + j;  // rotate-half row
        const int64_t gg = int64_t(h) * head_dim + 2 * j + i;     // interleaved row
        const int64_t from = inverse ? gg : hf, to = inverse ? hf : gg;
        std::copy(src + from * cols, src + (from + 1) * cols, dst + to * cols);
      }
}

void export_gguf(const Transformer& m, const fs::path& tokenizer_dir, const fs::path& out,
                 GgmlType wtype, const std::string& name) {
  const ModelConfig& c = m.config();
  const Vocab v = read_vocab(tokenizer_dir, c.vocab_size);
  const ArchSpec& spec = c.spec();
  const ArchFeatures& f = spec.features;
  const std::string arch = spec.gguf_arch;
  auto key = [&](const std::string& k) { return arch + "." + k; };

  GgufMetadata kv;
  kv.emplace_back("general.architecture", GgufValue::str(arch));
  kv.emplace_back("general.type", GgufValue::str("model"));
  kv.emplace_back("general.name", GgufValue::str(name));
  kv.emplace_back("general.file_type", GgufValue::u32(file_type(wtype)));
  kv.emplace_back("general.quantization_version", GgufValue::u32(2));
  kv.emplace_back("general.alignment", GgufValue::u32(32));
  kv.emplace_back(key("context_length"), GgufValue::u32(uint32_t(c.n_ctx)));
  kv.emplace_back(key("embedding_length"), GgufValue::u32(uint32_t(c.n_embd)));
  kv.emplace_back(key("block_count"), GgufValue::u32(uint32_t(c.n_layer)));
  kv.emplace_back(key("feed_forward_length"), GgufValue::u32(uint32_t(c.ffn_hidden)));
  kv.emplace_back(key("attention.head_count"), GgufValue::u32(uint32_t(c.n_head)));
  if (f.rope()) {
    kv.emplace_back(key("attention.head_count_kv"), GgufValue::u32(uint32_t(c.n_kv_head)));
    kv.emplace_back(key("rope.freq_base"), GgufValue::f32(c.rope_theta));
    kv.emplace_back(key("attention.layer_norm_rms_epsilon"), GgufValue::f32(c.norm_eps));
    kv.emplace_back(key("attention.key_length"), GgufValue::u32(uint32_t(c.head_dim)));
    kv.emplace_back(key("attention.value_length"), GgufValue::u32(uint32_t(c.head_dim)));
    kv.emplace_back(key("rope.dimension_count"), GgufValue::u32(uint32_t(c.head_dim)));
    kv.emplace_back(key("vocab_size"), GgufValue::u32(uint32_t(c.vocab_size)));
  } else {
    kv.emplace_back(key("attention.layer_norm_epsilon"), GgufValue::f32(c.norm_eps));
  }
  kv.emplace_back("tokenizer.ggml.model", GgufValue::str("gpt2"));
  kv.emplace_back("tokenizer.ggml.pre", GgufValue::str(v.pre));
  kv.emplace_back("tokenizer.ggml.tokens", GgufValue::strings(v.tokens));
  kv.emplace_back("tokenizer.ggml.token_type", GgufValue::i32s(v.types));
  kv.emplace_back("tokenizer.ggml.merges", GgufValue::strings(v.merges));
  auto eot = v.specials.find("<|endoftext|>");
  const int bos =
      c.bos_token_id >= 0 ? c.bos_token_id : (eot != v.specials.end() ? eot->second : -1);
  const int eos =
      c.eos_token_id >= 0 ? c.eos_token_id : (eot != v.specials.end() ? eot->second : -1);
  if (bos >= 0) kv.emplace_back("tokenizer.ggml.bos_token_id", GgufValue::u32(uint32_t(bos)));
  if (eos >= 0) kv.emplace_back("tokenizer.ggml.eos_token_id", GgufValue::u32(uint32_t(eos)));
  auto im_end = v.specials.find("<|im_end|>");
  if (im_end != v.specials.end())
    kv.emplace_back("tokenizer.ggml.eot_token_id", GgufValue::u32(uint32_t(im_end->second)));
  // lmforge's tokenizer adds no BOS/EOS; without these keys llama.cpp would add a BOS for some
  // pre-tokenizers ("llama-bpe") and the ids would differ.
  kv.emplace_back("tokenizer.ggml.add_bos_token", GgufValue::boolean(false));
  kv.emplace_back("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
  if (!v.chat_template.empty())
    kv.emplace_back("tokenizer.chat_template", GgufValue::str(v.chat_template));

  std::vector<GgufTensorOut> tensors;
  std::vector<std::vector<unsigned char>> bufs;  // keep converted data alive until written
  bufs.reserve(m.params().entries().size());
  std::vector<float> perm;
  for (const TensorInfo& t : m.params().entries()) {
    const float* x = m.params().get(t.name);
    if (absent_on_disk(c, t.name) && all_zero(x, t.numel))
      continue;  // Qwen2 has no o_proj bias: it is all zeros in our arena
    const std::string gname = gguf_tensor_name(c, t.name);
    check(!gname.empty(), "export", "no GGUF name for tensor '" + t.name + "'");
    int layer = -1;
    const TensorSpec* ts = find_tensor(c, t.name, &layer);
    if (ts && ts->gguf_permuted) {
      const bool is_q = ts->role == TensorRole::kQW || ts->role == TensorRole::kQB;
      perm.resize(t.numel);
      const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
      permute_rope_rows(x, perm.data(), is_q ? c.n_head : c.n_kv_head, c.head_dim, cols, false);
      x = perm.data();
    }
    std::vector<int64_t> ne(t.shape.rbegin(), t.shape.rend());
    GgmlType type = t.shape.size() >= 2 ? wtype : GgmlType::kF32;
    if (ne[0] % ggml_block_size(type) != 0) type = GgmlType::kF16;  // llama.cpp's fallback too
    bufs.push_back(ggml_from_f32(type, x, t.numel));
    tensors.push_back({gname, type, ne, bufs.back().data()});
  }
  write_gguf(out, kv, tensors);
}

}  // namespace lmforge
