// Running one benchmark task on a model (eval/evaluate.h): prompts, the kind's scoring, the
// aggregate metrics and their standard errors.
#include "lmforge/eval/evaluate.h"

#include <algorithm>
#include <chrono>

#include "lmforge/core/error.h"
#include "lmforge/data/chat_render.h"
#include "lmforge/infer/generate.h"

namespace lmforge {
namespace {

MetricValue mean_metric(const std::string& name, const std::vector<double>& xs) {
  double sum = 0;
  for (double x : xs) sum += x;
  return {name, xs.empty() ? 0.0 : sum / double(xs.size()), mean_stderr(xs), "mean_stderr"};
}

void run_multiple_choice(LoadedModel& m, const Task& task, const std::vector<std::string>& ctx,
                         const TaskEvalOptions& opt, TaskResult& r) {
  const int32_t prefix = prefix_token(m.tokenizer);
  std::vector<QuestionIds> qs(task.rows.size());
  for (size_t i = 0; i < task.rows.size(); ++i) {
    RowResult& d = r.details[i];
    for (const auto& choice : task.rows[i].choices) {
      EncodedRequest e =
          encode_request(m.tokenizer, ctx[i], opt.prompt.target_delimiter + choice, prefix);
      if (qs[i].continuations.empty()) qs[i].context = e.context;
      qs[i].continuations.push_back(std::move(e.continuation));
    }
    d.context_ids = qs[i].context;
    d.continuation_ids = qs[i].continuations;
  }
  LogLikScorer scorer(*m.infer, opt.max_length);
  std::vector<std::vector<ContinuationScore>> s;
  if (opt.shared_context) {
    s = scorer.score(qs);
  } else {
    for (const auto& q : qs) {
      s.emplace_back();
      for (const auto& c : q.continuations) s.back().push_back(scorer.score_separate(q.context, c));
    }
  }
  std::vector<double> acc, acc_norm;
  for (size_t i = 0; i < qs.size(); ++i) {
    RowResult& d = r.details[i];
    for (const auto& c : s[i]) d.lls.push_back(c.ll), d.greedy.push_back(c.greedy);
    const ChoiceScore cs = score_choices(d.lls, task.rows[i].choices, task.rows[i].gold);
    d.pred = cs.pred, d.pred_norm = cs.pred_norm, d.acc = cs.acc, d.acc_norm = cs.acc_norm;
    acc.push_back(cs.acc), acc_norm.push_back(cs.acc_norm);
  }
  r.metrics = {mean_metric("acc", acc), mean_metric("acc_norm", acc_norm)};
}

void run_generation(LoadedModel& m, const Task& task, const std::vector<std::string>& ctx,
                    const TaskEvalOptions& opt, TaskResult& r) {
  if (opt.max_gen_tokens < 1) throw UsageError("--max-gen-tokens must be at least 1");
  const int n_ctx = m.infer->config().n_ctx;
  // The harness keeps the last max_length - max_gen_toks prompt tokens; with a small context that
  // would leave almost no prompt, so at least half the context stays the prompt's (generation then
  // stops at the context's end).
  const int max_prompt = std::max(n_ctx / 2, n_ctx - opt.max_gen_tokens);
  GenerateRequest base;
  base.max_tokens = opt.max_gen_tokens;
  base.sampling.temperature = 0;  // greedy
  base.stop = opt.stop;
  base.stop_ids = m.eos_ids;
  std::optional<ChatTemplate> tmpl;
  if (opt.chat) {
    tmpl = m.chat_template();
    for (int32_t id : tmpl->stop_ids(m.tokenizer)) base.stop_ids.push_back(id);
    if (!tmpl->end_of_turn().empty()) base.stop.push_back(tmpl->end_of_turn());
  }
  std::vector<double> em;
  const size_t B = (size_t)std::max(1, opt.gen_batch);
  for (size_t i0 = 0; i0 < task.rows.size(); i0 += B) {
    const size_t i1 = std::min(task.rows.size(), i0 + B);
    std::vector<GenerateRequest> reqs;
    int cap = 1;
    for (size_t i = i0; i < i1; ++i) {
      GenerateRequest q = base;
      q.prompt =
          tmpl ? tmpl->encode(m.tokenizer, {{"user", ctx[i]}}, true) : m.encode_prompt(ctx[i]);
      if ((int)q.prompt.size() > max_prompt)  // the harness keeps the prompt's end
        q.prompt.erase(q.prompt.begin(), q.prompt.end() - max_prompt);
      cap = std::max(cap, std::min(n_ctx, (int)q.prompt.size() + opt.max_gen_tokens));
      reqs.push_back(std::move(q));
    }
    std::vector<std::unique_ptr<Sequence>> seqs;
    std::vector<Sequence*> ptrs;
    for (auto& q : reqs) {
      seqs.push_back(std::make_unique<Sequence>(*m.infer, m.tokenizer, q, nullptr, cap));
      ptrs.push_back(seqs.back().get());
    }
    while (step(*m.infer, ptrs) > 0) {
    }
    for (size_t i = i0; i < i1; ++i) {
      RowResult& d = r.details[i];
      const Sequence& s = *seqs[i - i0];
      d.context_ids = s.request().prompt;
      d.response = tmpl && tmpl->reply_has_prefix_space() ? strip_reply_prefix(s.text()) : s.text();
      d.extracted = extract_answer(d.response, opt.answer_regex, opt.group_select, opt.fallback);
      d.exact_match = exact_match(d.extracted, task.rows[i].answers, opt.match);
      em.push_back(d.exact_match);
    }
  }
  r.metrics = {mean_metric("exact_match", em)};
}

void run_perplexity(LoadedModel& m, const Task& task, const TaskEvalOptions& opt, TaskResult& r) {
  LogLikScorer scorer(*m.infer, opt.max_length);
  const int32_t prefix = prefix_token(m.tokenizer);
  std::vector<DocLogLik> docs;
  for (size_t i = 0; i < task.rows.size(); ++i) {
    const std::string& text = task.rows[i].text;
    const std::vector<int32_t> ids = m.tokenizer.encode(text);
    DocLogLik d{scorer.rolling(ids, prefix), count_words(text), (int64_t)text.size(),
                (int64_t)ids.size()};
    r.details[i].doc = d;
    docs.push_back(d);
  }
  const PerplexityScores all = aggregate_perplexity(docs);
  auto boot = [&](double PerplexityScores::*field) {
    return bootstrap_stderr(
        docs.size(),
        [&](std::span<const size_t> pick) { return aggregate_perplexity(docs, pick).*field; },
        opt.bootstrap_iters, opt.bootstrap_seed);
  };
  r.metrics = {
      {"word_perplexity", all.word_perplexity, boot(&PerplexityScores::word_perplexity),
       "bootstrap"},
      {"byte_perplexity", all.byte_perplexity, boot(&PerplexityScores::byte_perplexity),
       "bootstrap"},
      {"bits_per_byte", all.bits_per_byte, boot(&PerplexityScores::bits_per_byte), "bootstrap"}};
}

}  // namespace

const MetricValue& TaskResult::primary() const {
  const char* want = kind == TaskKind::kMultipleChoice ? "acc_norm"
                     : kind == TaskKind::kGeneration   ? "exact_match"
                                                       : "word_perplexity";
  for (const auto& m : metrics)
    if (m.name == want) return m;
  return metrics.at(0);
}

TaskResult evaluate_task(LoadedModel& m, const Task& task, const TaskEvalOptions& opt) {
  Task t = task;
  if (opt.limit > 0 && (int64_t)t.rows.size() > opt.limit) t.rows.resize((size_t)opt.limit);
  std::optional<Task> fewshot;
  if (!opt.fewshot_file.empty()) fewshot = read_task(opt.fewshot_file, t.kind);
  const std::vector<std::string> ctx = build_contexts(t, fewshot ? &*fewshot : nullptr, opt.prompt);
  TaskResult r;
  r.name = t.name, r.file = t.file, r.kind = t.kind;
  r.rows = (int64_t)t.rows.size();
  r.num_fewshot = opt.prompt.num_fewshot;
  r.details.resize(t.rows.size());
  for (size_t i = 0; i < t.rows.size(); ++i) r.details[i].line = t.rows[i].line;
  const auto t0 = std::chrono::steady_clock::now();
  switch (t.kind) {
    case TaskKind::kMultipleChoice:
      run_multiple_choice(m, t, ctx, opt, r);
      break;
    case TaskKind::kGeneration:
      run_generation(m, t, ctx, opt, r);
      break;
    case TaskKind::kPerplexity:
      run_perplexity(m, t, opt, r);
      break;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace lmforge
