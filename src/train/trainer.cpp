// The one training loop (see trainer.h for its contract and why a resume is exact).
#include "lmforge/train/trainer.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "lmforge/backend/ops.h"
#include "lmforge/core/error.h"
#include "lmforge/core/interrupt.h"
#include "lmforge/core/progress.h"
#include "lmforge/train/data_parallel.h"

namespace lmforge {
namespace fs = std::filesystem;

std::vector<ParamSegment> param_segments(const Transformer& model) {
  // Matrices and embeddings decay; norm gains and biases (1-D) do not. LoRA's A and B are
  // matrices and decay, as in PEFT + HF Trainer.
  const ParamArena& a = const_cast<Transformer&>(model).trainable_params();
  std::vector<ParamSegment> segs;
  for (const auto& e : a.entries())
    segs.push_back({e.name, e.shape, e.offset, e.numel, e.shape.size() >= 2});
  return segs;
}

double clip_grad_norm(const std::vector<TrainableGroup>& groups, double max_norm) {
  double ss = 0;
  for (const auto& g : groups) ss += ops::sum_squares(g.grads, g.numel);
  const double norm = std::sqrt(ss);
  if (max_norm > 0 && norm > max_norm) {
    const float s = static_cast<float>(max_norm / (norm + 1e-6));
    for (const auto& g : groups) ops::scale_inplace(g.grads, s, g.numel);
  }
  return norm;
}

Comm& Objective::comm() const {
  static const std::unique_ptr<Comm> kSingle = make_single_process_comm();  // stateless
  return comm_ ? *comm_ : *kSingle;
}

int default_threads_per_rank(const Comm& comm) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, comm.local_size()));
}

LanguageModelObjective::LanguageModelObjective(Transformer& model, BatchSource& data,
                                               int batch_size, int seq_len)
    : model_(model),
      data_(data),
      B_(batch_size),
      T_(seq_len),
      ids_(size_t(batch_size) * seq_len),
      targets_(ids_.size()) {}

std::vector<TrainableGroup> LanguageModelObjective::trainable() {
  ParamArena& p = model_.trainable_params();
  ParamArena& g = model_.trainable_grads();
  return {{"", p.data(), g.data(), p.numel(), param_segments(model_)}};
}

double LanguageModelObjective::micro_step(float scale, std::map<std::string, double>&) {
  const int R = comm().size(), r = comm().rank();
  if (R == 1) {
    data_.next(ids_.data(), targets_.data());
    double loss = model_.forward(ids_.data(), targets_.data(), B_, T_, data_.positions());
    model_.backward(scale);
    return loss;
  }
  // This rank's B rows of the global micro-batch of R·B rows; the other ranks' rows are read and
  // dropped (cheap next to a forward), so every source shards without knowing about ranks.
  skip_ids_.resize(ids_.size());
  skip_targets_.resize(ids_.size());
  for (int q = 0; q < r; ++q) data_.next(skip_ids_.data(), skip_targets_.data());
  data_.next(ids_.data(), targets_.data());
  const int32_t* p = data_.positions();
  if (p) pos_.assign(p, p + ids_.size());  // the next() calls below overwrite the source's
  for (int q = r + 1; q < R; ++q) data_.next(skip_ids_.data(), skip_targets_.data());
  // The loss is the mean over the global micro-batch's unmasked tokens (as one rank with R·B
  // rows computes it): forward() averages over this rank's n tokens, so its loss and gradient
  // are weighted by n·R / n_global; the trainer's average over ranks then divides by R.
  double n[1] = {0};
  for (int32_t t : targets_) n[0] += t >= 0;
  const double n_local = n[0];
  comm().all_reduce(n, 1);
  const double w = n[0] > 0 ? n_local * R / n[0] : 0.0;
  double loss = model_.forward(ids_.data(), targets_.data(), B_, T_, p ? pos_.data() : nullptr);
  model_.backward(static_cast<float>(scale * w));
  return loss * w;
}

double LanguageModelObjective::flops_per_micro() const {
  return model_.flops_per_token(T_) * double(B_) * T_;
}

namespace {

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

fs::path checkpoint_dir(const fs::path& run, int64_t step) {
  return run / "checkpoints" / ("step-" + std::to_string(step));
}

}  // namespace

TrainResult train_loop(Objective& obj, TrainerState& state, const TrainLoopConfig& cfg,
                       const TrainHooks& hooks) {
  using clock = std::chrono::steady_clock;
  std::unique_ptr<Comm> single;
  if (!cfg.comm) single = make_single_process_comm();
  Comm& comm = cfg.comm ? *cfg.comm : *single;
  const int ranks = comm.size();
  const bool root = comm.is_root();
  obj.set_comm(comm);
  const int64_t total = state.schedule.total_steps;
  const int64_t tokens_per_step = obj.tokens_per_micro() * cfg.grad_accum * ranks;
  const double flops_per_step = obj.flops_per_micro() * cfg.grad_accum * ranks;
  std::vector<TrainableGroup> groups = obj.trainable();
  DataParallelOptimizer opt(groups, cfg.adamw, comm, cfg.shard_optimizer);
  if (cfg.resume_from) {
    // Every rank reads the same global data position, so the step is exact only with the same
    // number of ranks (the global batch is batch x grad-accum x ranks).
    check_resume_ranks(state.ranks, ranks, *cfg.resume_from);
    opt.load_state(*cfg.resume_from);
    obj.load_extra(*cfg.resume_from);
  }
  state.ranks = ranks;
  obj.set_position(state.data_position);
  opt.set_step(state.step);

  std::optional<MetricsLog> metrics;
  if (root) metrics.emplace(cfg.run_dir / "metrics.jsonl", state.step);
  TrainResult result;
  result.steps_done = state.step;
  auto save = [&]() {
    fs::path dir = checkpoint_dir(cfg.run_dir, state.step);
    std::vector<std::shared_ptr<const AdamW>> full = opt.gather_state();  // collective
    if (root) {
      std::vector<OptimizerGroup> og;
      for (size_t i = 0; i < groups.size(); ++i) og.push_back({groups[i].prefix, full[i].get()});
      save_checkpoint(dir, obj.model(), og, state, cfg.tokenizer_files,
                      [&](const fs::path& tmp) { obj.save_extra(tmp); });
      prune_checkpoints(cfg.run_dir, cfg.keep_checkpoints);
    }
    result.last_checkpoint = dir;
  };

  std::optional<Progress> progress;
  if (root) {
    progress.emplace(cfg.label, total, "steps");
    progress->update(state.step);
    if (ranks > 1)
      progress->note(std::to_string(ranks) + " ranks (" + comm.name() + "), " +
                     std::to_string(omp_get_max_threads()) + " thread(s) each; AdamW state " +
                     (cfg.shard_optimizer ? "sharded (ZeRO-1), " : "replicated, ") +
                     Progress::format_count(double(opt.state_bytes())) + "B per rank");
  }
  install_interrupt_handlers();
  const double elapsed0 = state.elapsed_s;
  const auto t_run = clock::now();
  try {
    while (state.step < total) {
      const auto t0 = clock::now();
      const int64_t step = state.step + 1;
      obj.begin_step(step);
      for (const auto& g : groups) std::fill(g.grads, g.grads + g.numel, 0.0f);
      double loss = 0;
      std::map<std::string, double> extra;
      for (int micro = 0; micro < cfg.grad_accum; ++micro)
        loss += obj.micro_step(1.0f / static_cast<float>(cfg.grad_accum), extra);
      loss /= cfg.grad_accum;
      for (auto& [k, v] : extra) v /= cfg.grad_accum;
      // The loss and stage metrics averaged over the ranks, in one message.
      if (ranks > 1) {
        std::vector<double> packed{loss, double(extra.size())};
        for (const auto& [k, v] : extra) packed.push_back(v);
        comm.all_reduce(packed.data(), packed.size());
        check(packed[1] == double(extra.size()) * ranks, "train",
              "ranks reported different stage metrics");
        loss = packed[0] / ranks;
        size_t i = 2;
        for (auto& [k, v] : extra) v = packed[i++] / ranks;
      }
      double grad_norm = opt.reduce_and_clip(cfg.grad_clip);
      if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
        std::string last = result.last_checkpoint.empty()
                               ? (find_latest_checkpoint(cfg.run_dir)
                                      ? find_latest_checkpoint(cfg.run_dir)->string()
                                      : std::string("none yet"))
                               : result.last_checkpoint.string();
        throw RuntimeError(
            "non-finite " + std::string(std::isfinite(loss) ? "gradient norm" : "loss") +
            " at step " + std::to_string(step) + " (loss " + fmt("%g", loss) + ", grad_norm " +
            fmt("%g", grad_norm) + "); stopped without saving. Last good checkpoint: " + last +
            " (hint: lower --lr, raise --warmup-steps or set --grad-clip)");
      }
      const double lr = state.schedule.at(step);
      opt.update(static_cast<float>(lr));
      state.step = step;
      state.data_position = obj.position();
      state.tokens_seen += tokens_per_step;
      const double step_s = std::chrono::duration<double>(clock::now() - t0).count();
      state.elapsed_s = elapsed0 + std::chrono::duration<double>(clock::now() - t_run).count();

      StepMetrics m;
      m.step = step;
      m.loss = loss;
      m.lr = lr;
      m.grad_norm = grad_norm;
      m.tokens_per_s = step_s > 0 ? static_cast<double>(tokens_per_step) / step_s : 0;
      m.mfu =
          cfg.peak_flops > 0 && step_s > 0 ? flops_per_step / step_s / (cfg.peak_flops * ranks) : 0;
      m.extra = extra;
      m.elapsed_s = state.elapsed_s;
      bool last = step == total, early = false;
      // Evaluation and samples run on rank 0 alone (the weights are the same everywhere).
      if (root && hooks.eval && ((cfg.eval_every > 0 && step % cfg.eval_every == 0) || last)) {
        std::map<std::string, double> ev = hooks.eval();
        std::string line = "step " + std::to_string(step) + ":";
        for (const auto& [k, v] : ev) {
          if (k == "val_loss")
            m.val_loss = v;
          else
            m.extra[k] = v;
          line += " " + k + " " + fmt("%.4f", v);
        }
        result.last_val_loss = m.val_loss;
        result.last_eval = ev;
        progress->note(line);
        early = hooks.stop_after_eval && hooks.stop_after_eval(step, ev);
      }
      if (metrics) metrics->append(m);
      result.last_loss = loss;
      result.steps_done = step;
      if (hooks.on_step) hooks.on_step(m);
      if (root && hooks.sample && cfg.sample_every > 0 && step % cfg.sample_every == 0)
        progress->note("sample @ step " + std::to_string(step) + ": " + hooks.sample());
      if (progress)
        progress->update(step, "loss " + fmt("%.4f", loss) + " | lr " + fmt("%.2e", lr) + " | " +
                                   Progress::format_count(m.tokens_per_s) + " tok/s");

      // Whether any rank was asked to stop, so that all stop (and save) after the same step.
      double stop_flag[2] = {interrupt_requested() ? 1.0 : 0.0, early ? 1.0 : 0.0};
      if (ranks > 1) comm.all_reduce(stop_flag, 2, ReduceOp::kMax);
      const bool stop = stop_flag[0] > 0;
      if (stop_flag[1] > 0 && !last) {  // early stop: this step becomes the last
        last = true;
        result.stopped_early = true;
        state.schedule.total_steps = step;
        if (progress) progress->note("early stop after step " + std::to_string(step));
      }
      if (last || stop || (cfg.save_every > 0 && step % cfg.save_every == 0)) save();
      if (stop && !last) {
        result.interrupted = true;
        if (progress)
          progress->note("interrupted: saved " + result.last_checkpoint.string() +
                         " (continue with --resume)");
        break;
      }
      if (result.stopped_early) break;
    }
  } catch (...) {
    restore_interrupt_handlers();
    throw;
  }
  restore_interrupt_handlers();
  if (progress) progress->finish("loss " + fmt("%.4f", result.last_loss));
  return result;
}

}  // namespace lmforge
