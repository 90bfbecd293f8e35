// Validation loss/accuracy and greedy completions for the supervised stages (see sft_eval.h).
#include "lmforge/train/sft_eval.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "lmforge/infer/engine.h"
#include "lmforge/infer/generate.h"
#include "lmforge/train/stage.h"

namespace lmforge {

SftEval evaluate_sft(Transformer& model, const std::vector<SftExample>& examples, int B, int T) {
  const int V = model.config().vocab_size;
  std::vector<int32_t> ids(static_cast<size_t>(B) * T), targets(ids.size());
  double loss = 0;
  int64_t hit = 0, n = 0;
  for (size_t first = 0; first < examples.size(); first += B) {
    const int rows = static_cast<int>(std::min<size_t>(B, examples.size() - first));
    std::fill(ids.begin(), ids.end(), 0);
    std::fill(targets.begin(), targets.end(), -1);
    for (int b = 0; b < rows; ++b)
      place_example(examples[first + b], ids.data() + size_t(b) * T, targets.data() + size_t(b) * T,
                    nullptr, 0);
    const float* logits = model.forward_logits(ids.data(), rows, T);
    for (size_t i = 0; i < size_t(rows) * T; ++i) {
      if (targets[i] < 0) continue;
      const float* l = logits + i * V;
      const float mx = *std::max_element(l, l + V);
      double z = 0;
      for (int v = 0; v < V; ++v) z += std::exp(double(l[v]) - mx);
      loss += std::log(z) + mx - l[targets[i]];
      hit += (std::max_element(l, l + V) - l) == targets[i];
      ++n;
    }
  }
  SftEval e;
  e.tokens = n;
  if (n) {
    e.loss = loss / n;
    e.token_accuracy = double(hit) / n;
  }
  return e;
}

std::vector<std::vector<int32_t>> greedy_complete(const Transformer& model, const Tokenizer& tok,
                                                  const std::vector<std::vector<int32_t>>& prompts,
                                                  int max_tokens,
                                                  const std::vector<int32_t>& stop_ids) {
  InferenceModel im(model);  // with LoRA: adapters applied unmerged (model/block.h)
  const int ctx = model.config().n_ctx;
  std::vector<std::vector<int32_t>> out(prompts.size());
  const size_t chunk = 16;  // sequences advanced together by one batched forward
  for (size_t first = 0; first < prompts.size(); first += chunk) {
    std::vector<std::unique_ptr<Sequence>> seqs;
    std::vector<size_t> index;
    const size_t last = std::min(prompts.size(), first + chunk);
    int capacity = 1;  // one forward call needs caches of one capacity
    for (size_t i = first; i < last; ++i)
      capacity = std::max(capacity, std::min(ctx, int(prompts[i].size()) + max_tokens));
    for (size_t i = first; i < last; ++i) {
      const int room = ctx - static_cast<int>(prompts[i].size());
      if (prompts[i].empty() || room < 1) continue;
      GenerateRequest req;
      req.prompt = prompts[i];
      req.max_tokens = std::min(max_tokens, room);
      req.sampling.temperature = 0;  // greedy: deterministic, comparable across runs
      req.stop_ids = stop_ids;
      seqs.push_back(std::make_unique<Sequence>(im, tok, std::move(req), nullptr, capacity));
      index.push_back(i);
    }
    std::vector<Sequence*> ptrs;
    for (auto& s : seqs) ptrs.push_back(s.get());
    while (std::any_of(ptrs.begin(), ptrs.end(), [](Sequence* s) { return !s->done(); }))
      step(im, ptrs);
    for (size_t k = 0; k < seqs.size(); ++k) {
      std::vector<int32_t> g = seqs[k]->generated();
      auto stop = std::find_if(g.begin(), g.end(), [&](int32_t id) {
        return std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end();
      });
      g.erase(stop, g.end());
      out[index[k]] = std::move(g);
    }
  }
  return out;
}

}  // namespace lmforge
