// Instruction tuning: chat data, chat tokens, held-out evaluation (see instruct.h).
#include "lmforge/train/instruct.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/chat_render.h"
#include "lmforge/data/datasets.h"
#include "lmforge/data/tokenizer.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

int write_chat_tokenizer(const fs::path& model_dir, const fs::path& out_dir) {
  Tokenizer tok = Tokenizer::load(model_dir);
  json root = json::parse(read_file(model_dir / "tokenizer.json"));
  if (!root.contains("added_tokens") || root["added_tokens"].is_null())
    root["added_tokens"] = json::array();
  int added = 0;
  int32_t next = tok.vocab_size();
  for (const char* m : {"<|im_start|>", "<|im_end|>"}) {
    if (tok.special_id(m)) continue;
    root["added_tokens"].push_back({{"id", next++},
                                    {"content", m},
                                    {"single_word", false},
                                    {"lstrip", false},
                                    {"rstrip", false},
                                    {"normalized", false},
                                    {"special", true}});
    ++added;
  }
  fs::create_directories(out_dir);
  write_file_atomic(out_dir / "tokenizer.json", root.dump(2) + "\n");
  // tokenizer_config.json: the model's own keys kept, the template set to ChatML.
  json cfg = json::object();
  if (fs::exists(model_dir / "tokenizer_config.json")) {
    cfg = json::parse(read_file(model_dir / "tokenizer_config.json"), nullptr, false);
    if (!cfg.is_object()) cfg = json::object();
  }
  Tokenizer grown = Tokenizer::load(out_dir);  // validates the edited file
  json decoder = cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()
                     ? cfg["added_tokens_decoder"]
                     : json::object();
  for (const std::string& s : grown.special_tokens())
    decoder[std::to_string(*grown.special_id(s))] = {{"content", s},         {"lstrip", false},
                                                     {"normalized", false},  {"rstrip", false},
                                                     {"single_word", false}, {"special", true}};
  cfg["added_tokens_decoder"] = decoder;
  cfg["chat_template"] = kChatMlJinja;
  write_file_atomic(out_dir / "tokenizer_config.json", cfg.dump(2) + "\n");
  return added;
}

Transformer grow_vocab(const Transformer& model, int new_vocab) {
  ModelConfig c = model.config();
  const int V0 = c.vocab_size;
  c.vocab_size = new_vocab;
  Transformer out(c);
  const ParamArena& src = model.params();
  for (const TensorInfo& t : out.params().entries()) {
    float* dst = out.params().get(t.name);
    const TensorInfo& s = src.info(t.name);
    const float* from = src.get(t.name);
    if (s.shape == t.shape) {
      std::copy(from, from + s.numel, dst);
      continue;
    }
    // An embedding-like (V, C) tensor: old rows, then the mean row.
    const int64_t C = t.shape[1];
    std::copy(from, from + s.numel, dst);
    std::vector<double> mean(C, 0.0);
    for (int v = 0; v < V0; ++v)
      for (int64_t k = 0; k < C; ++k) mean[k] += from[v * C + k];
    for (int v = V0; v < new_vocab; ++v)
      for (int64_t k = 0; k < C; ++k) dst[v * C + k] = static_cast<float>(mean[k] / V0);
  }
  return out;
}

namespace {

std::vector<SftExample> render_examples(const std::vector<ChatExample>& chats,
                                        const Tokenizer& tok) {
  std::vector<SftExample> out;
  for (const ChatExample& c : chats) {
    RenderedChat r = render_chat(tok, c.messages, false);
    SftExample e;
    e.ids = std::move(r.ids);
    e.mask = std::move(r.mask);
    e.line = c.line;
    out.push_back(std::move(e));
  }
  return out;
}

void report_fit(const FitReport& r, const fs::path& file, int max_tokens) {
  if (r.truncated)
    std::fprintf(stderr,
                 "warning: %s: %lld conversation(s) longer than the context (%d tokens) were "
                 "truncated (--on-overflow error refuses them instead)\n",
                 file.c_str(), static_cast<long long>(r.truncated), max_tokens);
  if (r.dropped)
    std::fprintf(stderr,
                 "warning: %s: %lld conversation(s) had no assistant token left within the "
                 "context and were skipped\n",
                 file.c_str(), static_cast<long long>(r.dropped));
}

// Generation prompts (the conversation up to the last assistant reply) and references.
void add_generation_set(const std::vector<ChatExample>& chats, const Tokenizer& tok,
                        const std::string& file, bool require_last_assistant, SftStageSpec& spec) {
  for (const ChatExample& c : chats) {
    if (c.messages.back().role != "assistant") {
      if (!require_last_assistant) continue;
      throw InputError(file, c.line, "messages",
                       "the last message must be the assistant's reference reply (held-out "
                       "conversations are scored against it)");
    }
    std::vector<ChatMessage> prompt(c.messages.begin(), c.messages.end() - 1);
    spec.gen_prompts.push_back(render_chat(tok, prompt, true).ids);
    spec.gen_refs.push_back(c.messages.back().content);
  }
}

}  // namespace

SftStageResult run_instruct(const InstructOptions& o, const TrainHooks& test_hooks) {
  // ---- validate everything before writing anything ----
  validate_stage_options(o.stage);
  if (o.packing != "pack" && o.packing != "pad")
    throw UsageError("--packing must be pack or pad, got '" + o.packing + "'");
  const OnOverflow mode = parse_on_overflow(o.on_overflow);
  if (o.val_fraction < 0 || o.val_fraction >= 1)
    throw UsageError("--val-fraction must be in [0, 1)");
  if (o.heldout_metric != "exact" && o.heldout_metric != "contains")
    throw UsageError("--heldout-metric must be exact or contains");
  if (o.eval_max_tokens < 0) throw UsageError("--eval-max-tokens must be >= 0");
  ModelConfig mc = read_init_config(o.stage.init);
  const int T = o.seq_len > 0 ? o.seq_len : mc.n_ctx;
  if (T > mc.n_ctx || T < 2)
    throw UsageError("--seq-len must be in [2, " + std::to_string(mc.n_ctx) + "] (the context)");
  std::vector<ChatExample> chats = read_chat_jsonl(o.data);
  std::vector<ChatExample> val_chats, heldout;
  if (!o.val_data.empty()) val_chats = read_chat_jsonl(o.val_data);
  if (!o.heldout.empty()) heldout = read_chat_jsonl(o.heldout);
  check_stage_output(o.stage);
  // The --init model's own tokenizer (before the chat markers) made the replay shards.
  std::optional<TokenDataset> replay =
      open_sft_replay(o.replay, Tokenizer::load(o.stage.init).content_hash(), T);

  // The tokenizer with the chat markers, built in a scratch directory and kept as RUN/tokenizer.
  const fs::path scratch =
      fs::temp_directory_path() / ("lmforge-instruct-tok-" + std::to_string(getpid()));
  fs::remove_all(scratch);
  const int added = write_chat_tokenizer(o.stage.init, scratch);
  Tokenizer tok = Tokenizer::load(scratch);
  const int new_vocab = std::max(mc.vocab_size, tok.vocab_size());
  if (added)
    std::fprintf(stderr,
                 "notice: the tokenizer of %s lacks the chat markers: added %d special token(s) "
                 "(<|im_start|>/<|im_end|>); the model's embeddings grow from %d to %d rows, new "
                 "rows start at the mean embedding\n",
                 o.stage.init.c_str(), added, mc.vocab_size, new_vocab);

  SftStageSpec spec;
  spec.name = "instruct";
  if (replay) {
    spec.replay = std::make_shared<const TokenDataset>(std::move(*replay));
    spec.replay_dir = o.replay.dir;
    spec.replay_ratio = o.replay.ratio;
  }
  spec.stage = o.stage;
  spec.tok = &tok;
  spec.T = T;
  spec.pack = o.packing == "pack";
  spec.pad_id = *tok.special_id("<|im_end|>");
  spec.train = render_examples(chats, tok);
  report_fit(fit_examples(spec.train, T + 1, mode, o.data.string(), "messages"), o.data, T + 1);
  if (spec.train.empty())
    throw InputError(o.data.string(), 0, "messages",
                     "no conversation keeps an assistant token within the context (" +
                         std::to_string(T) + " tokens)",
                     "use shorter conversations or a model with a longer context");
  if (!o.val_data.empty()) {
    spec.val = render_examples(val_chats, tok);
    report_fit(fit_examples(spec.val, T + 1, mode, o.val_data.string(), "messages"), o.val_data,
               T + 1);
  } else {
    split_validation(spec.train, spec.val, o.val_fraction, o.stage.seed);
  }
  if (!o.heldout.empty()) {
    add_generation_set(heldout, tok, o.heldout.string(), true, spec);
  } else {
    // Without --heldout: the validation conversations' last replies (phrasings may overlap the
    // training data's, so this measures less than a true held-out set).
    std::vector<ChatExample> from_val;
    const auto& src = o.val_data.empty() ? chats : val_chats;
    for (const SftExample& e : spec.val)
      for (const ChatExample& c : src)
        if (c.line == e.line) from_val.push_back(c);
    add_generation_set(from_val, tok, "", false, spec);
    if (!spec.gen_prompts.empty())
      std::fprintf(stderr,
                   "note: no --heldout file: instruct_accuracy is measured on the validation "
                   "conversations\n");
  }
  size_t longest = 0;
  for (const auto& r : spec.gen_refs) longest = std::max(longest, tok.encode(r).size());
  spec.select_best = !o.keep_last;
  spec.early_stop_patience = o.early_stop_patience;
  spec.auto_evals = 5;
  spec.select_on_generation = o.heldout.empty();  // the validation conversations: not a test set
  spec.metric = o.heldout_metric;
  spec.headline = "instruct_accuracy";
  spec.eval_max_tokens = o.eval_max_tokens > 0 ? o.eval_max_tokens : int(longest) + 8;
  for (const char* s : {"<|im_end|>", "<|endoftext|>"})
    if (auto id = tok.special_id(s)) spec.stop_ids.push_back(*id);
  spec.resume_config = {{"data", o.data.string()},
                        {"val_data", o.val_data.string()},
                        {"heldout", o.heldout.string()},
                        {"vocab_size", new_vocab}};
  if (new_vocab > mc.vocab_size)
    spec.prepare = [new_vocab](Transformer& m) { m = grow_vocab(m, new_vocab); };
  if (!spec.gen_prompts.empty())
    std::fprintf(stderr,
                 "instruct_accuracy: %s of the reply on %zu held-out prompts (greedy, up to %d "
                 "tokens)\n",
                 o.heldout_metric == "exact" ? "exact match" : "answer contained in the reply",
                 spec.gen_prompts.size(), spec.eval_max_tokens);

  // ---- from here on we write ----
  if (writes_files(o.stage)) {  // data parallel: rank 0 writes
    ensure_writable_dir(o.stage.output);
    write_dir_atomic(o.stage.output / "tokenizer", [&](const fs::path& tmp) {
      for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
        fs::copy_file(scratch / f, tmp / f);
    });
  }
  fs::remove_all(scratch);
  spec.tokenizer_files = {o.stage.output / "tokenizer" / "tokenizer.json",
                          o.stage.output / "tokenizer" / "tokenizer_config.json"};
  return run_sft_stage(std::move(spec), test_hooks);
}

}  // namespace lmforge
