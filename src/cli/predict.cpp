// `lmforge predict`: the next-token distribution after a prompt, as a table or JSON. Options and
// printing only; the forward is InferenceModel (infer/engine.h).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cli/command.h"
#include "lmforge/core/error.h"
#include "lmforge/infer/loaded_model.h"
#include "lmforge/infer/sampler.h"

namespace lmforge::cli {
namespace {

struct Opts {
  std::string model, prompt;
  int top = 10;
  bool json = false;
};

void run(const Opts& o) {
  auto m = LoadedModel::load(o.model);
  std::vector<int32_t> ids = m->encode_prompt(o.prompt);
  const int V = m->model.config().vocab_size;
  if ((int)ids.size() > m->model.config().n_ctx)
    throw UsageError("the prompt has " + std::to_string(ids.size()) +
                     " tokens but the model's context is " +
                     std::to_string(m->model.config().n_ctx));
  KVCache cache(m->model.config(), (int)ids.size());
  ForwardChunk chunk{&cache, ids};
  std::vector<double> p = softmax(m->infer->forward({&chunk, 1}), V);
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  const int k = std::clamp(o.top, 1, V);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  auto text = [&](int32_t id) {
    return id < m->tokenizer.vocab_size() ? m->tokenizer.token_bytes(id) : std::string();
  };
  if (o.json) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (int i = 0; i < k; ++i)
      arr.push_back({{"id", order[i]}, {"token", text(order[i])}, {"prob", p[order[i]]}});
    std::printf("%s\n", arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::printf("prompt: %zu tokens; next-token distribution (top %d of %d)\n", ids.size(), k, V);
  std::printf("%4s  %-24s %7s  %9s  %9s\n", "rank", "token", "id", "prob", "cumulative");
  double cum = 0.0;
  for (int i = 0; i < k; ++i) {
    cum += p[order[i]];
    std::string shown = "\"" + escape_token(text(order[i])) + "\"";
    std::printf("%4d  %-24s %7d  %9.6f  %9.6f\n", i + 1, shown.c_str(), order[i], p[order[i]], cum);
  }
}

void setup(CLI::App& root) {
  CLI::App* cmd =
      add_command(root, "predict", "Show the model's next-token probabilities after a prompt");
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "model directory")->required();
  cmd->add_option("--prompt", o->prompt, "text to continue (empty: from the beginning of text)");
  cmd->add_option("--top", o->top, "how many of the most likely tokens to list")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "print [{\"id\", \"token\", \"prob\"}, ...] on stdout");
  cmd->callback([cmd, o] {
    print_resolved_config(*cmd);
    run(*o);
  });
}

const bool registered = register_command(50, setup);

}  // namespace
}  // namespace lmforge::cli
