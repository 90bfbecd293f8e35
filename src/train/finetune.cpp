// Task fine-tuning: data preparation for the supervised stage (see finetune.h).
#include "lmforge/train/finetune.h"

#include <algorithm>
#include <cstdio>

#include "lmforge/core/error.h"
#include "lmforge/data/datasets.h"
#include "lmforge/train/task_metrics.h"

namespace lmforge {
namespace fs = std::filesystem;

namespace {

std::vector<SftExample> load_examples(const fs::path& file, const Tokenizer& tok, int32_t eos,
                                      int max_tokens, OnOverflow mode) {
  std::vector<SftExample> ex;
  for (const auto& e : read_prompt_completion_jsonl(file))
    ex.push_back(encode_prompt_completion(tok, e, eos));
  FitReport r = fit_examples(ex, max_tokens, mode, file.string(), "completion");
  if (r.truncated)
    std::fprintf(stderr,
                 "warning: %s: %lld example(s) longer than the context (%d tokens) were truncated"
                 "%s (--on-overflow error refuses them instead)\n",
                 file.c_str(), static_cast<long long>(r.truncated), max_tokens,
                 r.dropped ? "" : "; their end, EOS included, is not trained");
  if (r.dropped)
    std::fprintf(stderr,
                 "warning: %s: %lld example(s) had no completion token left within the context "
                 "and were skipped\n",
                 file.c_str(), static_cast<long long>(r.dropped));
  return ex;
}

}  // namespace

SftStageResult run_finetune(const FinetuneOptions& o, const TrainHooks& test_hooks) {
  // ---- validate everything before writing anything ----
  validate_stage_options(o.stage);
  if (o.packing != "pack" && o.packing != "pad")
    throw UsageError("--packing must be pack or pad, got '" + o.packing + "'");
  const OnOverflow mode = parse_on_overflow(o.on_overflow);
  if (o.val_fraction < 0 || o.val_fraction >= 1)
    throw UsageError("--val-fraction must be in [0, 1)");
  if (o.eval_max_tokens < 0 || o.eval_samples < 0)
    throw UsageError("--eval-max-tokens and --eval-samples must be >= 0");
  if (o.eval_metric != "auto") text_metric(o.eval_metric, {}, {});  // UsageError when unknown
  ModelConfig mc = read_init_config(o.stage.init);
  Tokenizer tok = Tokenizer::load(o.stage.init);
  if (tok.vocab_size() > mc.vocab_size)
    throw InputError((o.stage.init / "tokenizer.json").string(), 0, "",
                     "the tokenizer has " + std::to_string(tok.vocab_size()) +
                         " tokens but the model only " + std::to_string(mc.vocab_size));
  const int32_t eos = mc.eos_token_id >= 0 ? mc.eos_token_id : tok.eot_id();
  const int T = o.seq_len > 0 ? o.seq_len : mc.n_ctx;
  if (T > mc.n_ctx || T < 2)
    throw UsageError("--seq-len must be in [2, " + std::to_string(mc.n_ctx) + "] (the context)");

  std::optional<TokenDataset> replay = open_sft_replay(o.replay, tok.content_hash(), T);

  SftStageSpec spec;
  spec.name = "finetune";
  if (replay) {
    spec.replay = std::make_shared<const TokenDataset>(std::move(*replay));
    spec.replay_dir = o.replay.dir;
    spec.replay_ratio = o.replay.ratio;
  }
  spec.stage = o.stage;
  spec.tok = &tok;
  spec.T = T;
  spec.pack = o.packing == "pack";
  spec.pad_id = eos;
  spec.train = load_examples(o.data, tok, eos, T + 1, mode);
  if (spec.train.empty())
    throw InputError(
        o.data.string(), 0, "completion",
        "no example keeps a completion token within the context (" + std::to_string(T) + " tokens)",
        "use shorter examples or a model with a longer context");
  if (!o.val_data.empty())
    spec.val = load_examples(o.val_data, tok, eos, T + 1, mode);
  else
    split_validation(spec.train, spec.val, o.val_fraction, o.stage.seed);

  // Generation: the validation prompts, the completions (without EOS) as references.
  size_t longest = 0;
  const size_t n_gen =
      o.eval_samples > 0 ? std::min<size_t>(o.eval_samples, spec.val.size()) : spec.val.size();
  for (size_t i = 0; i < n_gen; ++i) {
    const SftExample& e = spec.val[i];
    std::vector<int32_t> ref(e.ids.begin() + e.prompt_tokens, e.ids.end());
    if (!ref.empty() && ref.back() == eos) ref.pop_back();
    longest = std::max(longest, ref.size());
    spec.gen_prompts.emplace_back(e.ids.begin(), e.ids.begin() + e.prompt_tokens);
    spec.gen_refs.push_back(tok.decode(ref));
  }
  spec.metric = o.eval_metric == "auto" ? auto_metric(spec.gen_refs) : o.eval_metric;
  spec.eval_max_tokens = o.eval_max_tokens > 0 ? o.eval_max_tokens : static_cast<int>(longest) + 8;
  spec.stop_ids = {eos};
  spec.headline = "task_metric";
  spec.resume_config = {{"data", o.data.string()}, {"val_data", o.val_data.string()}};
  spec.tokenizer_files = tokenizer_files_of(o.stage.init);
  if (!spec.gen_prompts.empty())
    std::fprintf(stderr, "task metric: %s on %zu validation prompts (greedy, up to %d tokens)\n",
                 metric_key(spec.metric).c_str(), spec.gen_prompts.size(), spec.eval_max_tokens);
  return run_sft_stage(std::move(spec), test_hooks);
}

}  // namespace lmforge
