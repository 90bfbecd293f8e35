// LoRA adapters: layout, forward/backward on a site's packed output, merge, PEFT files.
#include "lmforge/model/lora.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "lmforge/backend/ops.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/core/rng.h"
#include "lmforge/io/safetensors.h"
#include "lmforge/model/arch.h"
#include "lmforge/model/transformer.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<LoraTargetSpec>& specs(const ModelConfig& m) {
  return m.spec().lora_targets;
}

std::string known_targets(const ModelConfig& m) {
  std::string s;
  for (const auto& t : specs(m)) s += std::string(s.empty() ? "" : ", ") + t.target;
  return s;
}

std::string last_component(const std::string& module) {
  auto p = module.rfind('.');
  return p == std::string::npos ? module : module.substr(p + 1);
}

}  // namespace

std::vector<std::string> parse_lora_targets(const std::string& list, const ModelConfig& model) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(start, end - start);
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    start = end + 1;
    if (name.empty()) continue;
    std::string found;
    for (const auto& t : specs(model)) {
      // GPT-2's c_proj names two modules; the HF name alone means the attention one only when
      // written in full ("attn.c_proj"), so plain "c_proj" is refused as ambiguous below.
      if (name == t.target || name == t.module || name == last_component(t.module)) {
        if (!found.empty() && found != t.target)
          throw UsageError("--lora-targets: '" + name + "' is ambiguous for a " + model.arch +
                           " model (hint: use " + found + " or " + t.target + ")");
        found = t.target;
      }
    }
    if (found.empty())
      throw UsageError("--lora-targets: unknown target '" + name + "' for a " + model.arch +
                       " model (hint: choose from " + known_targets(model) + ")");
    if (std::find(out.begin(), out.end(), found) == out.end()) out.push_back(found);
  }
  if (out.empty()) throw UsageError("--lora-targets is empty (hint: e.g. attn_q,attn_v)");
  return out;
}

LoraAdapters::LoraAdapters(const ModelConfig& model, LoraConfig cfg, uint64_t seed)
    : model_(model), cfg_(std::move(cfg)) {
  if (cfg_.rank < 1) throw UsageError("--lora-rank must be at least 1");
  if (!(cfg_.alpha > 0)) throw UsageError("--lora-alpha must be > 0");
  const int C = model.n_embd, Q = model.attn_dim(), KV = model.n_kv_head * model.head_dim;
  const int FF = model.ffn_hidden, QKV = model.qkv_dim();
  std::set<std::string> wanted(cfg_.targets.begin(), cfg_.targets.end());
  for (const auto& t : cfg_.targets) {
    bool ok = false;
    for (const auto& s : specs(model)) ok |= t == s.target;
    if (!ok)
      throw UsageError("LoRA target '" + t + "' does not exist in a " + model.arch +
                       " model (hint: choose from " + known_targets(model) + ")");
  }
  for (int l = 0; l < model.n_layer; ++l) {
    for (const auto& s : specs(model)) {
      if (!wanted.count(s.target)) continue;
      // The adapted weight fixes the site and the column slice of its packed output.
      const std::string module = layer_prefix(model, l) + s.module;
      Adapter a{LoraSite::kQKV, l, 0, 0, 0, module, "", ""};
      switch (s.weight) {
        case TensorRole::kQW:
          a = {LoraSite::kQKV, l, 0, Q, C, module, "", ""};
          break;
        case TensorRole::kKW:
          a = {LoraSite::kQKV, l, Q, KV, C, module, "", ""};
          break;
        case TensorRole::kVW:
          a = {LoraSite::kQKV, l, Q + KV, KV, C, module, "", ""};
          break;
        case TensorRole::kQKVW:
          a = {LoraSite::kQKV, l, 0, QKV, C, module, "", ""};
          break;
        case TensorRole::kOW:
          a = {LoraSite::kO, l, 0, C, Q, module, "", ""};
          break;
        case TensorRole::kGateW:
          a = {LoraSite::kUp, l, 0, FF, C, module, "", ""};
          break;
        case TensorRole::kUpW:  // after the gate in SwiGLU's packed [gate|up]
          a = {LoraSite::kUp, l, model.features().swiglu() ? FF : 0, FF, C, module, "", ""};
          break;
        case TensorRole::kDownW:
          a = {LoraSite::kDown, l, 0, C, FF, module, "", ""};
          break;
        default:
          throw UsageError("LoRA target '" + std::string(s.target) + "' adapts no linear layer");
      }
      a.a_name = "base_model.model." + a.module + ".lora_A.weight";
      a.b_name = "base_model.model." + a.module + ".lora_B.weight";
      params_.add(a.a_name, {cfg_.rank, a.in});
      params_.add(a.b_name, {a.out, cfg_.rank});
      adapters_.push_back(a);
    }
  }
  params_.finalize();
  grads_ = params_.clone_layout();
  for (const auto& a : adapters_) {  // B stays zero: a fresh adapter is the identity
    float* w = params_.get(a.a_name);
    Rng rng(seed_for(seed, a.a_name));
    const double bound = 1.0 / std::sqrt(double(a.in));
    for (size_t i = 0; i < size_t(cfg_.rank) * a.in; ++i)
      w[i] = float((2.0 * rng.uniform() - 1.0) * bound);
  }
}

namespace {
int site_width(const ModelConfig& m, LoraSite s) {
  switch (s) {
    case LoraSite::kQKV:
      return m.qkv_dim();
    case LoraSite::kO:
      return m.n_embd;
    case LoraSite::kUp:
      return m.features().up_factor() * m.ffn_hidden;
    case LoraSite::kDown:
      return m.n_embd;
  }
  return 0;
}
}  // namespace

void LoraAdapters::forward(LoraSite site, int layer, float* out, const float* inp, int N) const {
  const int r = cfg_.rank, W = site_width(model_, site);
  std::vector<float> h;
  for (const auto& a : adapters_) {
    if (a.site != site || a.layer != layer) continue;
    h.assign(size_t(N) * r, 0.0f);
    ops::gemm(false, true, N, r, a.in, 1.0f, inp, a.in, params_.get(a.a_name), a.in, 0.0f, h.data(),
              r);  // h (N,r) = inp·Aᵀ
    ops::gemm(false, true, N, a.out, r, scaling(), h.data(), r, params_.get(a.b_name), r, 1.0f,
              out + a.col0, W);  // out[:, slice] += s·h·Bᵀ
  }
}

void LoraAdapters::backward(LoraSite site, int layer, float* dinp, const float* dout,
                            const float* inp, int N) {
  const int r = cfg_.rank, W = site_width(model_, site);
  std::vector<float> h, g;
  for (const auto& a : adapters_) {
    if (a.site != site || a.layer != layer) continue;
    const float* A = params_.get(a.a_name);
    const float* B = params_.get(a.b_name);
    const float* d = dout + a.col0;  // (N, out) with row stride W
    h.assign(size_t(N) * r, 0.0f);
    g.assign(size_t(N) * r, 0.0f);
    ops::gemm(false, true, N, r, a.in, 1.0f, inp, a.in, A, a.in, 0.0f, h.data(),
              r);  // recompute h
    ops::gemm(true, false, a.out, r, N, scaling(), d, W, h.data(), r, 1.0f, grads_.get(a.b_name),
              r);  // dB += s·dᵀ·h
    ops::gemm(false, false, N, r, a.out, scaling(), d, W, B, r, 0.0f, g.data(), r);  // g = s·d·B
    ops::gemm(true, false, r, a.in, N, 1.0f, g.data(), r, inp, a.in, 1.0f, grads_.get(a.a_name),
              a.in);  // dA += gᵀ·inp
    if (dinp)
      ops::gemm(false, false, N, a.in, r, 1.0f, g.data(), r, A, a.in, 1.0f, dinp, a.in);  // += g·A
  }
}

void LoraAdapters::merge_into(ParamArena& params) const {
  const int r = cfg_.rank;
  for (const auto& a : adapters_) {
    // Each adapter has its own HF module weight in the arena ((out, in) in memory, also for
    // GPT-2's Conv1D), so the merge needs no knowledge of how q,k,v or gate,up are packed.
    const std::string name = a.module + ".weight";
    check(params.info(name).shape == std::vector<int64_t>{a.out, a.in}, "lora",
          name + " is not (" + std::to_string(a.out) + ", " + std::to_string(a.in) + ")");
    float* w = params.get(name);
    // The merge is a weight edit, not a training matmul: always fp32.
    backend::PrecisionScope fp32(backend::Precision::fp32);
    ops::gemm(false, false, a.out, a.in, r, scaling(), params_.get(a.b_name), r,
              params_.get(a.a_name), a.in, 1.0f, w, a.in);  // W += s·B·A
  }
}

bool LoraAdapters::present(const fs::path& dir) {
  return fs::exists(dir / "adapter_config.json") && fs::exists(dir / "adapter_model.safetensors");
}

void LoraAdapters::save(const fs::path& dir, const std::string& base_model) const {
  // Where module names are unique (Llama, Qwen3) the last component is what PEFT users write.
  // GPT-2's "c_proj" names both the attention and the MLP output projection and PEFT matches
  // module-name suffixes, so GPT-2 lists qualified names ("attn.c_proj").
  const ArchSpec& spec = model_.spec();
  json modules = json::array();
  bool transposed = false;  // PEFT's fan_in_fan_out: the adapted weights are stored (in, out)
  for (const auto& s : specs(model_))
    if (std::find(cfg_.targets.begin(), cfg_.targets.end(), s.target) != cfg_.targets.end()) {
      modules.push_back(spec.peft_short_modules ? last_component(s.module) : std::string(s.module));
      for (const TensorSpec& t : spec.tensors) transposed |= t.role == s.weight && t.transposed;
    }
  // PEFT types lora_alpha as int; write it as one when it is.
  const json alpha = cfg_.alpha == std::floor(cfg_.alpha) && std::fabs(cfg_.alpha) < 1e9f
                         ? json(int64_t(cfg_.alpha))
                         : json(cfg_.alpha);
  // Only keys PEFT's LoraConfig knows: older PEFT versions refuse unknown ones.
  json cfg = {{"peft_type", "LORA"},
              {"task_type", "CAUSAL_LM"},
              {"r", cfg_.rank},
              {"lora_alpha", alpha},
              {"lora_dropout", 0.0},
              {"bias", "none"},
              {"fan_in_fan_out", transposed},  // GPT-2's Conv1D stores W as (in, out)
              {"target_modules", modules},
              {"base_model_name_or_path", base_model},
              {"inference_mode", true}};
  write_file_atomic(dir / "adapter_config.json", cfg.dump(2) + "\n");
  std::vector<NamedTensor> tensors;
  for (const auto& e : params_.entries())
    tensors.push_back({e.name, DType::kF32, e.shape, params_.get(e.name)});
  save_safetensors(dir / "adapter_model.safetensors", tensors, {{"format", "pt"}});
}

namespace {
// PEFT's target_modules semantics: a list entry matches a module whose full name equals it or
// ends with "." + it (so GPT-2's "c_proj" adapts both output projections); the string
// "all-linear" means every linear layer but the head. Returns our target names in canonical
// order; UsageError on an entry that matches nothing or on a regex string.
std::vector<std::string> peft_targets(const json& t, const ModelConfig& model) {
  std::vector<std::string> names;
  if (t.is_string()) {
    if (t.get<std::string>() != "all-linear")
      throw UsageError("a regular expression ('" + t.get<std::string>() +
                       "') is not supported (hint: list the module names)");
    for (const auto& s : specs(model)) names.push_back(s.target);
    return names;
  }
  if (!t.is_array()) throw UsageError("expected a list of module names");
  std::set<std::string> hit;
  for (const auto& x : t) {
    const std::string n = x.get<std::string>();
    bool any = false;
    for (const auto& s : specs(model)) {
      const std::string full = layer_prefix(model, 0) + s.module;
      const bool suffix = full.size() > n.size() &&
                          full.compare(full.size() - n.size(), n.size(), n) == 0 &&
                          full[full.size() - n.size() - 1] == '.';
      // Our own names (attn_q, ...) are accepted too, as lmforge's CLI spells them.
      if (full == n || suffix || n == s.target) {
        hit.insert(s.target);
        any = true;
      }
    }
    if (!any)
      throw UsageError("unknown target module '" + n + "' for a " + model.arch +
                       " model (hint: choose from " + known_targets(model) + ")");
  }
  for (const auto& s : specs(model))
    if (hit.count(s.target)) names.push_back(s.target);
  if (names.empty()) throw UsageError("target_modules is empty");
  return names;
}
}  // namespace

LoraAdapters LoraAdapters::load(const fs::path& dir, const ModelConfig& model) {
  const fs::path cfg_path = dir / "adapter_config.json";
  const std::string cfg_file = cfg_path.string();
  json j = json::parse(read_file(cfg_path), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw InputError(cfg_file, 0, "", "not a JSON object");
  auto need = [&](const char* key) -> const json& {
    if (!j.contains(key)) throw InputError(cfg_file, 0, key, "missing key");
    return j[key];
  };
  if (need("peft_type") != "LORA")
    throw InputError(cfg_file, 0, "peft_type", "only LORA adapters are supported");
  // Variants whose arithmetic differs from alpha/r·B·A: refused rather than silently misread.
  for (const char* key : {"use_rslora", "use_dora"})
    if (j.contains(key) && j[key].is_boolean() && j[key].get<bool>())
      throw InputError(cfg_file, 0, key, "this LoRA variant is not supported");
  LoraConfig c;
  auto typed = [&](const char* key, auto get) {
    try {
      return get(need(key));
    } catch (const json::exception& e) {
      throw InputError(cfg_file, 0, key, std::string("ill-typed value: ") + e.what());
    }
  };
  c.rank = typed("r", [](const json& v) { return v.get<int>(); });
  c.alpha = typed("lora_alpha", [](const json& v) { return v.get<float>(); });
  if (c.rank < 1) throw InputError(cfg_file, 0, "r", "rank must be at least 1");
  if (!(c.alpha > 0)) throw InputError(cfg_file, 0, "lora_alpha", "must be > 0");
  try {
    c.targets = peft_targets(need("target_modules"), model);
  } catch (const json::exception& e) {
    throw InputError(cfg_file, 0, "target_modules", std::string("ill-typed value: ") + e.what());
  } catch (const UsageError& e) {
    throw InputError(cfg_file, 0, "target_modules", e.what());
  }
  LoraAdapters a(model, c, 0);
  const fs::path st = dir / "adapter_model.safetensors";
  SafetensorsFile f = SafetensorsFile::open(st);
  for (const auto& e : a.params_.entries()) {
    if (!f.has(e.name))
      throw InputError(st.string(), 0, e.name, "missing adapter tensor",
                       "the adapter was trained for another model or other targets");
    if (f.shape(e.name) != e.shape)
      throw InputError(st.string(), 0, e.name,
                       "shape " + shape_str(f.shape(e.name)) + ", expected " + shape_str(e.shape),
                       "the adapter was trained for another model or another rank");
    f.read_f32(e.name, a.params_.get(e.name), e.numel);
  }
  for (const auto& name : f.names())
    if (!a.params_.has(name))
      throw InputError(st.string(), 0, name,
                       "unexpected tensor: adapter_config.json does not "
                       "target this module",
                       "the adapter was trained for another model");
  return a;
}

}  // namespace lmforge
