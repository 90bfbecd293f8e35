// The one training loop (see trainer.h for its contract and why a resume is exact).
#include "lmforge/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "lmforge/backend/kernels.h"
#include "lmforge/core/error.h"
#include "lmforge/core/interrupt.h"
#include "lmforge/core/progress.h"

namespace lmforge {
namespace fs = std::filesystem;

std::vector<ParamSegment> param_segments(const Transformer& model) {
  // Matrices and embeddings decay; norm gains and biases (1-D) do not. LoRA's A and B are
  // matrices and decay, as in PEFT + HF Trainer.
  const ParamArena& a = const_cast<Transformer&>(model).trainable_params();
  std::vector<ParamSegment> segs;
  for (const auto& e : a.entries()) segs.push_back({e.name, e.shape, e.offset, e.numel, e.shape.size() >= 2});
  return segs;
}

double clip_grad_norm(const std::vector<TrainableGroup>& groups, double max_norm) {
  double ss = 0;
  for (const auto& g : groups) ss += cpu::sum_squares(g.grads, g.numel);
  const double norm = std::sqrt(ss);
  if (max_norm > 0 && norm > max_norm) {
    const float s = static_cast<float>(max_norm / (norm + 1e-6));
    for (const auto& g : groups) cpu::scale_inplace(g.grads, s, g.numel);
  }
  return norm;
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
  data_.next(ids_.data(), targets_.data());
  double loss = model_.forward(ids_.data(), targets_.data(), B_, T_, data_.positions());
  model_.backward(scale);
  return loss;
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
  const int64_t total = state.schedule.total_steps;
  const int64_t tokens_per_step = obj.tokens_per_micro() * cfg.grad_accum;
  const double flops_per_step = obj.flops_per_micro() * cfg.grad_accum;
  std::vector<TrainableGroup> groups = obj.trainable();
  std::vector<AdamW> opts;
  opts.reserve(groups.size());
  for (const auto& g : groups) opts.emplace_back(cfg.adamw, g.segments, g.numel);
  if (cfg.resume_from) {
    for (size_t i = 0; i < groups.size(); ++i)
      load_optimizer_state(*cfg.resume_from, opts[i], groups[i].prefix);
    obj.load_extra(*cfg.resume_from);
  }
  obj.set_position(state.data_position);
  for (auto& o : opts) o.set_step(state.step);

  MetricsLog metrics(cfg.run_dir / "metrics.jsonl", state.step);
  TrainResult result;
  result.steps_done = state.step;
  auto save = [&]() {
    fs::path dir = checkpoint_dir(cfg.run_dir, state.step);
    std::vector<OptimizerGroup> og;
    for (size_t i = 0; i < groups.size(); ++i) og.push_back({groups[i].prefix, &opts[i]});
    save_checkpoint(dir, obj.model(), og, state, cfg.tokenizer_files,
                    [&](const fs::path& tmp) { obj.save_extra(tmp); });
    prune_checkpoints(cfg.run_dir, cfg.keep_checkpoints);
    result.last_checkpoint = dir;
  };

  Progress progress(cfg.label, total, "steps");
  progress.update(state.step);
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
      double grad_norm = clip_grad_norm(groups, cfg.grad_clip);
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
      for (size_t i = 0; i < groups.size(); ++i)
        opts[i].update(groups[i].params, groups[i].grads, static_cast<float>(lr));
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
      m.mfu = cfg.peak_flops > 0 && step_s > 0 ? flops_per_step / step_s / cfg.peak_flops : 0;
      m.extra = extra;
      m.elapsed_s = state.elapsed_s;
      const bool last = step == total;
      if (hooks.eval && ((cfg.eval_every > 0 && step % cfg.eval_every == 0) || last)) {
        std::map<std::string, double> ev = hooks.eval();
        std::string line = "step " + std::to_string(step) + ":";
        for (const auto& [k, v] : ev) {
          if (k == "val_loss") m.val_loss = v;
          else m.extra[k] = v;
          line += " " + k + " " + fmt("%.4f", v);
        }
        result.last_val_loss = m.val_loss;
        result.last_eval = ev;
        progress.note(line);
      }
      metrics.append(m);
      result.last_loss = loss;
      result.steps_done = step;
      if (hooks.on_step) hooks.on_step(m);
      if (hooks.sample && cfg.sample_every > 0 && step % cfg.sample_every == 0)
        progress.note("sample @ step " + std::to_string(step) + ": " + hooks.sample());
      progress.update(step, "loss " + fmt("%.4f", loss) + " | lr " + fmt("%.2e", lr) + " | " +
                                Progress::format_count(m.tokens_per_s) + " tok/s");

      const bool stop = interrupt_requested();
      if (last || stop || (cfg.save_every > 0 && step % cfg.save_every == 0)) save();
      if (stop && !last) {
        result.interrupted = true;
        progress.note("interrupted: saved " + result.last_checkpoint.string() +
                      " (continue with --resume)");
        break;
      }
    }
  } catch (...) {
    restore_interrupt_handlers();
    throw;
  }
  restore_interrupt_handlers();
  progress.finish("loss " + fmt("%.4f", result.last_loss));
  return result;
}

}  // namespace lmforge
