// The one training loop (see trainer.h for its contract and why a resume is exact).
#include "lmforge/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "lmforge/core/error.h"
#include "lmforge/core/interrupt.h"
#include "lmforge/core/progress.h"

namespace lmforge {
namespace fs = std::filesystem;

std::vector<ParamSegment> param_segments(const Transformer& model) {
  std::vector<ParamSegment> segs;
  for (const auto& e : model.params().entries())
    segs.push_back({e.name, e.shape, e.offset, e.numel, model.is_decayed(e.name)});
  return segs;
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

TrainResult train_loop(Transformer& model, AdamW& opt, BatchSource& data, TrainerState& state,
                       const TrainLoopConfig& cfg, const TrainHooks& hooks) {
  using clock = std::chrono::steady_clock;
  const int B = cfg.batch_size, T = cfg.seq_len;
  const int64_t total = state.schedule.total_steps;
  const int64_t tokens_per_step = static_cast<int64_t>(B) * T * cfg.grad_accum;
  const double flops_per_token = model.flops_per_token(T);
  std::vector<int32_t> ids(static_cast<size_t>(B) * T), targets(ids.size());
  data.set_position(state.data_position);
  opt.set_step(state.step);

  MetricsLog metrics(cfg.run_dir / "metrics.jsonl", state.step);
  TrainResult result;
  result.steps_done = state.step;
  auto save = [&]() {
    fs::path dir = checkpoint_dir(cfg.run_dir, state.step);
    save_checkpoint(dir, model, opt, state, cfg.tokenizer_files);
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
      model.zero_grad();
      double loss = 0;
      for (int micro = 0; micro < cfg.grad_accum; ++micro) {
        data.next(ids.data(), targets.data());
        loss += model.forward(ids.data(), targets.data(), B, T);
        model.backward(1.0f / static_cast<float>(cfg.grad_accum));
      }
      loss /= cfg.grad_accum;
      double grad_norm = clip_grad_norm(model.grads().data(), model.grads().numel(), cfg.grad_clip);
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
      opt.update(model.params().data(), model.grads().data(), static_cast<float>(lr));
      state.step = step;
      state.data_position = data.position();
      state.tokens_seen += tokens_per_step;
      const double step_s = std::chrono::duration<double>(clock::now() - t0).count();
      state.elapsed_s = elapsed0 + std::chrono::duration<double>(clock::now() - t_run).count();

      StepMetrics m;
      m.step = step;
      m.loss = loss;
      m.lr = lr;
      m.grad_norm = grad_norm;
      m.tokens_per_s = step_s > 0 ? static_cast<double>(tokens_per_step) / step_s : 0;
      m.mfu = cfg.peak_flops > 0 ? flops_per_token * m.tokens_per_s / cfg.peak_flops : 0;
      m.elapsed_s = state.elapsed_s;
      const bool last = step == total;
      if (hooks.eval && ((cfg.eval_every > 0 && step % cfg.eval_every == 0) || last)) {
        m.val_loss = hooks.eval();
        result.last_val_loss = m.val_loss;
        progress.note("step " + std::to_string(step) + ": val_loss " + fmt("%.4f", *m.val_loss));
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
