// Pretraining on the common stage setup (stage.h): config resolution, input validation (all of
// it before the first byte is written), the window source with replay, validation/sample hooks.
// Not here: resume, RUN/config.yaml, start.json, final/ and summary.json (begin_stage and
// finish_stage write them, as for every stage), the loop itself (trainer.cpp).
#include "lmforge/train/pretrain.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/token_dataset.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/model/arch.h"
#include "lmforge/train/data_loader.h"
#include "lmforge/train/evaluate.h"
#include "lmforge/train/stage.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Pretraining batches: (B, T+1) windows from the DataLoader split into inputs and targets. With
// a replay loader, row k (counted over the whole run) comes from it when
// floor((k+1)·ratio) > floor(k·ratio); the position is then the number of rows, from which both
// loaders' positions follow.
class WindowSource : public BatchSource {
 public:
  WindowSource(const TokenDataset& ds, int B, int T, uint64_t seed)
      : loader_(reader_of(ds), static_cast<int64_t>(ds.num_tokens()), T, seed),
        B_(B),
        T_(T),
        buf_(static_cast<size_t>(T) + 1) {}
  void add_replay(const TokenDataset& general, double ratio, uint64_t seed) {
    replay_.emplace(reader_of(general), static_cast<int64_t>(general.num_tokens()), T_,
                    seed ^ 0x5265706c6179ull);  // its own window order
    ratio_ = ratio;
  }
  void next(int32_t* ids, int32_t* targets) override {
    for (int b = 0; b < B_; ++b) {
      DataLoader& src = replay_ && is_replay_row(rows_) ? *replay_ : loader_;
      src.next_batch(1, buf_.data());
      ++rows_;
      std::copy(buf_.begin(), buf_.begin() + T_, ids + static_cast<size_t>(b) * T_);
      std::copy(buf_.begin() + 1, buf_.end(), targets + static_cast<size_t>(b) * T_);
    }
  }
  int64_t position() const override { return replay_ ? rows_ : loader_.position(); }
  void set_position(int64_t p) override {
    if (!replay_) {
      loader_.set_position(p);
      return;
    }
    rows_ = p;
    replay_->set_position(replay_rows(p));
    loader_.set_position(p - replay_rows(p));
  }
  int64_t windows_per_epoch() const { return loader_.windows_per_epoch(); }

 private:
  static TokenReader reader_of(const TokenDataset& ds) {
    return [&ds](int64_t pos, int64_t n, int32_t* out) { ds.read(pos, n, out); };
  }
  // Replay rows among the first n rows: floor(n·ratio) (a tiny epsilon keeps 0.25·4 = 1 exact).
  int64_t replay_rows(int64_t n) const {
    return static_cast<int64_t>(std::floor(static_cast<double>(n) * ratio_ + 1e-9));
  }
  bool is_replay_row(int64_t k) const { return replay_rows(k + 1) > replay_rows(k); }

  DataLoader loader_;
  std::optional<DataLoader> replay_;
  double ratio_ = 0;
  int64_t rows_ = 0;
  int B_, T_;
  std::vector<int32_t> buf_;
};

ModelConfig resolve_model(const PretrainOptions& o, const DataManifest& man) {
  const ArchSpec& spec = arch_spec(o.arch);  // UsageError naming the families
  if (!o.init_model.empty()) {
    if (o.n_layer || o.n_head || o.n_kv_head || o.n_embd || o.ffn_hidden || o.n_ctx ||
        !o.preset.empty())
      throw UsageError(
          "--init takes the architecture from the model; drop --preset and the "
          "--n-* / --ffn-hidden overrides (hint: they apply to fresh models only)");
    fs::path cfg = o.init_model / "config.json";
    json j = json::parse(read_file(cfg), nullptr, false);
    if (j.is_discarded()) throw InputError(cfg.string(), 0, "", "not valid JSON");
    ModelConfig c = ModelConfig::from_hf_json(j, cfg.string());
    if (c.vocab_size < man.vocab_size)
      throw InputError(cfg.string(), 0, "vocab_size",
                       "the model's vocabulary (" + std::to_string(c.vocab_size) +
                           ") is smaller than the data's (" + std::to_string(man.vocab_size) + ")",
                       "prepare the data with this model's tokenizer");
    return c;
  }
  // Without --preset: the family's first preset (tiny, llama-tiny, qwen3-tiny).
  std::string preset = o.preset.empty() ? spec.presets.front().name : o.preset;
  ModelConfig c = ModelConfig::preset(preset, man.vocab_size);
  if (!o.preset.empty() && c.arch != o.arch && o.arch != PretrainOptions{}.arch)
    throw UsageError("--preset " + preset + " is a " + c.arch + " model but --arch is " + o.arch);
  const bool gqa = c.features().rope();  // the RoPE families have grouped-query attention
  if (o.n_layer) c.n_layer = o.n_layer;
  if (o.n_head) c.n_head = o.n_head;
  c.n_kv_head = o.n_kv_head ? o.n_kv_head : (gqa && !o.n_head ? c.n_kv_head : c.n_head);
  if (!gqa && o.n_kv_head && o.n_kv_head != c.n_head)
    throw UsageError("--n-kv-head applies to RoPE families only (GPT-2 has NKV = NH)");
  if (o.n_embd) c.n_embd = o.n_embd;
  if (c.n_head <= 0 || c.n_embd % c.n_head != 0)
    throw UsageError("--n-embd " + std::to_string(c.n_embd) + " is not divisible by --n-head " +
                     std::to_string(c.n_head));
  // A preset's head size stays (Qwen3's need not be C/NH) unless the width or heads change.
  if (o.n_embd || o.n_head) c.head_dim = c.n_embd / c.n_head;
  if (o.ffn_hidden)
    c.ffn_hidden = o.ffn_hidden;
  else if (o.n_embd)
    c.ffn_hidden = c.features().swiglu() ? (8 * c.n_embd / 3 + 7) / 8 * 8 : 4 * c.n_embd;
  if (o.n_ctx) c.n_ctx = o.n_ctx;
  c.eos_token_id = c.bos_token_id = man.eot_id;
  c.validate();
  return c;
}

std::string printable(std::string s) {
  std::string out;
  for (char ch : s) out += ch == '\n' ? std::string("\\n") : std::string(1, ch);
  return out;
}

// The stage options of a pretraining run (rows of T tokens; no LoRA, no epochs: the step count
// comes from --max-steps, --max-tokens or one epoch of the data).
StageOptions stage_options(const PretrainOptions& o, int T) {
  StageOptions s;
  s.init = o.init_model;
  s.output = o.output_dir;
  s.lr = o.lr;
  s.min_lr = o.min_lr;
  s.warmup_steps = o.warmup_steps;
  s.lr_decay = o.lr_decay;
  s.weight_decay = o.weight_decay;
  s.grad_clip = o.grad_clip;
  s.beta1 = o.beta1;
  s.beta2 = o.beta2;
  s.batch_size = o.batch_size;
  s.grad_accum = o.grad_accum;
  s.max_steps = o.max_steps;
  s.eval_every = o.eval_every;
  s.save_every = o.save_every;
  s.keep_checkpoints = o.keep_checkpoints;
  s.seed = o.seed;
  s.threads = o.threads;
  s.resume = o.resume;
  s.resolved_config_yaml = o.resolved_config_yaml;
  s.comm = o.comm;
  s.shard_optimizer = o.shard_optimizer;
  s.seq_len = T;
  s.memory_hint = "lower --batch-size or --seq-len (raise --grad-accum to keep the batch)";
  s.peak_gflops = o.peak_gflops;
  return s;
}

}  // namespace

PretrainResult run_pretrain(const PretrainOptions& o, const TrainHooks& test_hooks) {
  // ---- validate everything before writing anything ----
  DataManifest man = read_manifest(o.data_dir);
  TokenDataset train = TokenDataset::open(o.data_dir, "train");
  TokenDataset val = TokenDataset::open(o.data_dir, "val");
  ModelConfig mc = resolve_model(o, man);
  // The data's own tokenizer.json is copied into every checkpoint and final/: it must be the one
  // that made the shards, or the model's vocabulary and ids would not match its tokenizer.
  std::optional<Tokenizer> tok;
  if (fs::exists(o.data_dir / "tokenizer.json")) {
    tok.emplace(Tokenizer::load(o.data_dir));
    if (tok->content_hash() != man.tokenizer_hash || tok->vocab_size() != man.vocab_size)
      throw InputError(
          (o.data_dir / "tokenizer.json").string(), 0, "tokenizer",
          "is not the tokenizer that prepared the shards: hash " +
              tok->content_hash().substr(0, 12) + " with " + std::to_string(tok->vocab_size()) +
              " tokens, but " + (o.data_dir / "manifest.json").string() + " says tokenizer_hash " +
              man.tokenizer_hash.substr(0, 12) + " with vocab_size " +
              std::to_string(man.vocab_size),
          "put back the tokenizer the data was prepared with, or re-run lmforge prepare");
  }
  if (!o.init_model.empty()) {
    fs::path tj = o.init_model / "tokenizer.json";
    if (!fs::exists(tj))
      throw InputError(tj.string(), 0, "",
                       "missing: continued pretraining needs the model's "
                       "tokenizer to check it against the data",
                       "copy the tokenizer into the model directory");
    std::string h = Tokenizer::load(o.init_model).content_hash();
    if (h != man.tokenizer_hash)
      throw InputError(
          tj.string(), 0, "tokenizer",
          "does not match the tokenizer that prepared " + o.data_dir.string() + " (hash " +
              h.substr(0, 12) + " vs manifest " + man.tokenizer_hash.substr(0, 12) + ")",
          "prepare the data with this model's tokenizer: lmforge prepare --tokenizer " +
              o.init_model.string());
  }
  // Replay and general validation data: prepared with the same tokenizer as the domain data.
  auto same_tokenizer = [&](const fs::path& dir, const char* what) {
    DataManifest g = read_manifest(dir);
    if (g.tokenizer_hash != man.tokenizer_hash)
      throw InputError((dir / "manifest.json").string(), 0, "tokenizer_hash",
                       std::string("the ") + what + " data was prepared with another tokenizer (" +
                           g.tokenizer_hash.substr(0, 12) + " vs " +
                           man.tokenizer_hash.substr(0, 12) + " for " + o.data_dir.string() + ")",
                       "prepare both with the same tokenizer: lmforge prepare --tokenizer ...");
  };
  std::optional<TokenDataset> general_train, general_val;
  if (!o.replay_dir.empty()) {
    if (!(o.replay_ratio > 0 && o.replay_ratio < 1))
      throw UsageError("--replay-ratio must be in (0, 1), got " + std::to_string(o.replay_ratio));
    same_tokenizer(o.replay_dir, "--replay");
    general_train.emplace(TokenDataset::open(o.replay_dir, "train"));
  }
  const fs::path general_val_dir = !o.general_val_dir.empty() ? o.general_val_dir : o.replay_dir;
  if (!general_val_dir.empty()) {
    if (general_val_dir != o.replay_dir) same_tokenizer(general_val_dir, "--general-val");
    general_val.emplace(TokenDataset::open(general_val_dir, "val"));
    if (general_val->num_tokens() < 2)
      throw InputError((general_val_dir / "manifest.json").string(), 0, "val_tokens",
                       "the general data has no validation tokens to measure forgetting on",
                       "prepare it with a validation split (lmforge prepare --val-fraction)");
  }
  const int T = o.seq_len > 0 ? o.seq_len : mc.n_ctx;
  if (T > mc.n_ctx)
    throw UsageError("--seq-len " + std::to_string(T) + " exceeds the model's context " +
                     std::to_string(mc.n_ctx) + " (hint: lower --seq-len" +
                     (o.init_model.empty() ? " or raise --n-ctx)" : ")"));
  // Checked here rather than with CLI11's excludes(): RUN/config.yaml lists both (one as 0).
  if (o.max_steps > 0 && o.max_tokens > 0)
    throw UsageError("--max-steps and --max-tokens are both set (hint: give only one)");
  const StageOptions so = stage_options(o, T);
  validate_stage_options(so, /*init_required=*/false);
  WindowSource source(train, o.batch_size, T, o.seed);  // UsageError when the split is too small
  if (general_train) source.add_replay(*general_train, o.replay_ratio, o.seed);
  const int ranks = o.comm ? o.comm->size() : 1;
  int64_t total_steps = 0;
  const int64_t tokens_per_step = int64_t(o.batch_size) * T * o.grad_accum * ranks;
  if (o.max_steps > 0)
    total_steps = o.max_steps;
  else if (o.max_tokens > 0)
    total_steps = (o.max_tokens + tokens_per_step - 1) / tokens_per_step;
  else {
    // One epoch of the domain split; with replay the rows grow so that the domain share of them
    // still covers it.
    const int64_t rows =
        general_train
            ? static_cast<int64_t>(std::ceil(source.windows_per_epoch() / (1.0 - o.replay_ratio)))
            : source.windows_per_epoch();
    const int64_t per_step = int64_t(o.batch_size) * o.grad_accum * ranks;  // the global batch
    total_steps = std::max<int64_t>(1, (rows + per_step - 1) / per_step);
  }
  if (o.sample_every > 0 && !tok) tok = Tokenizer::load(o.data_dir);
  if (o.sample_every <= 0) tok.reset();   // no samples: the hook below stays off
  std::vector<fs::path> tokenizer_files;  // the data's: copied into checkpoints and final/
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (fs::exists(o.data_dir / f)) tokenizer_files.push_back(o.data_dir / f);
  json resume_config = {{"model", mc.to_hf_json()},
                        {"seq_len", T},
                        {"tokenizer_hash", man.tokenizer_hash},
                        {"train_tokens", train.num_tokens()}};
  if (general_train) {
    resume_config["replay"] = o.replay_dir.string();
    resume_config["replay_ratio"] = o.replay_ratio;
  }

  // ---- from here on we write (rank 0 alone when data parallel) ----
  StageRun run = begin_stage("pretrain", so, resume_config, total_steps, tokenizer_files, {},
                             o.init_model.empty() ? std::optional<ModelConfig>(mc) : std::nullopt);
  run.loop.sample_every = o.sample_every;
  PretrainResult res;
  res.model = mc;
  res.total_steps = total_steps;
  res.peak_gflops = run.loop.peak_flops / 1e9;

  TrainHooks hooks = test_hooks;
  Transformer& m = *run.model;
  auto loss_on = [&](const TokenDataset& ds) {
    TokenReader rd = [&ds](int64_t p, int64_t n, int32_t* out) { ds.read(p, n, out); };
    return evaluate_tokens(m, rd, ds.num_tokens(), o.batch_size, T, o.eval_tokens, nullptr).loss();
  };
  if (val.num_tokens() >= 2) {
    hooks.eval = [&]() {
      std::map<std::string, double> r{{"val_loss", loss_on(val)}};
      if (general_val) {
        r["domain_val_loss"] = r["val_loss"];
        r["general_val_loss"] = loss_on(*general_val);
      }
      return r;
    };
  } else {
    std::fprintf(stderr, "note: %s has no validation tokens; val_loss is not measured\n",
                 o.data_dir.c_str());
  }
  if (tok) {
    hooks.sample = [&]() {
      const TokenDataset& src = val.num_tokens() >= 8 ? val : train;
      std::vector<int32_t> seq(std::min<uint64_t>(8, src.num_tokens()));
      src.read(0, seq.size(), seq.data());
      const size_t prompt = seq.size();
      for (int i = 0; i < 24; ++i) {  // greedy: deterministic, so samples are comparable
        const int len = static_cast<int>(std::min<size_t>(seq.size(), T));
        const float* logits = m.forward_logits(seq.data() + seq.size() - len, 1, len);
        const float* last = logits + static_cast<size_t>(len - 1) * mc.vocab_size;
        seq.push_back(static_cast<int32_t>(std::max_element(last, last + man.vocab_size) - last));
      }
      std::span<const int32_t> all(seq);
      return "\"" + printable(tok->decode(all.first(prompt))) + "\" → \"" +
             printable(tok->decode(all.subspan(prompt))) + "\"";
    };
  }

  // Step 0 of continued pretraining (or whenever forgetting is measured): the starting point.
  if (hooks.eval && (!o.init_model.empty() || general_val))
    stage_start_metrics(run, [&]() {
      json start = json::object();
      for (auto& [k, v] : hooks.eval()) start[k] = v;
      return start;
    });

  LanguageModelObjective objective(m, source, o.batch_size, T);
  res.train = run_stage_loop(run, objective, hooks);
  json headline = {{"continued", !o.init_model.empty()}};
  for (const auto& [k, v] : res.train.last_eval)
    if (k != "val_loss") headline[k] = v;
  res.final_dir = finish_stage(run, res.train, headline);
  return res;
}

}  // namespace lmforge
