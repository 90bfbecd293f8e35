// Windowed loss over a token stream (see evaluate.h for the windowing).
#include "lmforge/train/evaluate.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/token_dataset.h"

namespace lmforge {

double EvalResult::loss() const {
  return tokens > 0 ? loss_sum / static_cast<double>(tokens)
                    : std::numeric_limits<double>::quiet_NaN();
}
double EvalResult::perplexity() const {
  return std::exp(loss());
}
double EvalResult::bits_per_byte() const {
  return bytes > 0 ? loss_sum / (std::numbers::ln2 * static_cast<double>(bytes))
                   : std::numeric_limits<double>::quiet_NaN();
}

EvalResult evaluate_tokens(Transformer& model, const TokenReader& reader, int64_t num_tokens, int B,
                           int T, int64_t max_targets, const Tokenizer* tokenizer) {
  EvalResult r;
  if (num_tokens < 2) return r;
  check(B >= 1 && T >= 1, "evaluate", "batch size and sequence length must be positive");
  // A stream shorter than one window is scored as one shorter sequence.
  T = static_cast<int>(std::min<int64_t>(T, num_tokens - 1));
  const int64_t total_targets = num_tokens - 1;
  const int64_t want =
      max_targets > 0 ? std::min<int64_t>(max_targets, total_targets) : total_targets;
  const int64_t windows = (want + T - 1) / T;
  std::vector<int32_t> buf(T + 1), ids(static_cast<size_t>(B) * T), targets(ids.size());
  for (int64_t w0 = 0; w0 < windows; w0 += B) {
    const int nb = static_cast<int>(std::min<int64_t>(B, windows - w0));
    std::fill(ids.begin(), ids.end(), 0);
    std::fill(targets.begin(), targets.end(), -1);
    for (int b = 0; b < nb; ++b) {
      const int64_t start = (w0 + b) * T;
      const int len = static_cast<int>(std::min<int64_t>(T, total_targets - start));  // targets
      reader(start, len + 1, buf.data());
      std::copy(buf.begin(), buf.begin() + len, ids.begin() + static_cast<size_t>(b) * T);
      std::copy(buf.begin() + 1, buf.begin() + len + 1,
                targets.begin() + static_cast<size_t>(b) * T);
    }
    model.forward(ids.data(), targets.data(), nb, T);
    const float* losses = model.last_losses();
    for (size_t i = 0; i < static_cast<size_t>(nb) * T; ++i) {
      if (targets[i] < 0) continue;
      r.loss_sum += losses[i];
      ++r.tokens;
      if (tokenizer) r.bytes += tokenizer->token_bytes(targets[i]).size();
    }
  }
  return r;
}

EvalResult run_eval(const EvalOptions& o) {
  namespace fs = std::filesystem;
  if (o.threads > 0) omp_set_num_threads(o.threads);
  if (o.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  const bool is_dir = fs::is_directory(o.data);
  if (!is_dir && !fs::exists(o.data))
    throw InputError(o.data.string(), 0, "", "no such file or directory",
                     "pass a prepared data directory or a text file");
  Transformer model = Transformer::load(o.model_dir);  // first: names a wrong --model clearly
  const bool model_tok = fs::exists(o.model_dir / "tokenizer.json");
  if (!model_tok && !is_dir)
    throw InputError((o.model_dir / "tokenizer.json").string(), 0, "",
                     "missing: a text file is tokenized with the model's tokenizer",
                     "copy the tokenizer into the model directory");
  Tokenizer tok = Tokenizer::load(model_tok ? o.model_dir : o.data);
  const ModelConfig& mc = model.config();
  const int T = o.seq_len > 0 ? o.seq_len : mc.n_ctx;
  if (T > mc.n_ctx)
    throw UsageError("--seq-len " + std::to_string(T) + " exceeds the model's context " +
                     std::to_string(mc.n_ctx) + " (hint: lower --seq-len)");
  if (is_dir) {
    DataManifest man = read_manifest(o.data);
    if (model_tok && tok.content_hash() != man.tokenizer_hash)
      throw InputError((o.model_dir / "tokenizer.json").string(), 0, "tokenizer",
                       "does not match the tokenizer that prepared " + o.data.string(),
                       "prepare the data with this model's tokenizer");
    TokenDataset ds = TokenDataset::open(o.data, o.split);
    if (ds.num_tokens() < 2)
      throw InputError(o.data.string(), 0, o.split, "the split has no tokens to score",
                       "prepare more text or choose the other --split");
    TokenReader rd = [&ds](int64_t p, int64_t n, int32_t* out) { ds.read(p, n, out); };
    return evaluate_tokens(model, rd, ds.num_tokens(), o.batch_size, T, o.max_tokens, &tok);
  }
  std::vector<int32_t> ids;
  if (auto eot = tok.special_id("<|endoftext|>")) ids.push_back(*eot);
  tok.encode_append(read_file(o.data), ids);
  if (ids.size() < 2)
    throw InputError(o.data.string(), 0, "", "the text has no tokens to score",
                     "pass a non-empty text file");
  for (int32_t id : ids)
    if (id >= mc.vocab_size)
      throw InputError(o.data.string(), 0, "",
                       "token id " + std::to_string(id) + " is outside the model's vocabulary",
                       "use the model's own tokenizer");
  TokenReader rd = [&ids](int64_t p, int64_t n, int32_t* out) {
    std::copy(ids.begin() + p, ids.begin() + p + n, out);
  };
  return evaluate_tokens(model, rd, static_cast<int64_t>(ids.size()), o.batch_size, T, o.max_tokens,
                         &tok);
}

}  // namespace lmforge
