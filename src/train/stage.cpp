// Shared stage plumbing (see stage.h): option checks, output rules, resume, LoRA setup, step-0
// metrics, final/ (with the stage's extra files) and summary.json.
// Not here: a stage's data, objective or loss head (src/train/<stage>.cpp), the loop (trainer.cpp).
#include "lmforge/train/stage.h"

#include <omp.h>

#include <cmath>
#include <cstdio>

#include "lmforge/backend/isa.h"
#include "lmforge/backend/peak.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/model/arch.h"
#include "lmforge/model/lora.h"
#include "lmforge/model/memory_estimate.h"
#include "lmforge/train/checkpoint.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

void validate_stage_options(const StageOptions& o, bool init_required) {
  if (init_required && o.init.empty())
    throw UsageError("--init is required (the model directory to start from)");
  if (o.output.empty()) throw UsageError("--output is required (the run directory)");
  if (o.batch_size < 1 || o.grad_accum < 1)
    throw UsageError("--batch-size and --grad-accum must be at least 1");
  if (!(o.lr > 0) || o.beta1 < 0 || o.beta1 >= 1 || o.beta2 < 0 || o.beta2 >= 1)
    throw UsageError("--lr must be > 0 and --beta1/--beta2 in [0, 1)");
  if (o.weight_decay < 0) throw UsageError("--weight-decay must be >= 0");
  if (o.max_steps < 0) throw UsageError("--max-steps must be >= 0");
  if (o.epochs < 1) throw UsageError("--epochs must be at least 1");
  if (o.eval_every < 0 || o.save_every < 0 || o.keep_checkpoints < 0)
    throw UsageError("--eval-every, --save-every and --keep-checkpoints must be >= 0");
  if (o.lora_rank < 0) throw UsageError("--lora-rank must be >= 0 (0: full fine-tuning)");
  if (o.lora_rank > 0 && !(o.lora_alpha > 0)) throw UsageError("--lora-alpha must be > 0");
  if (o.merge && o.lora_rank == 0)
    throw UsageError("--merge applies to LoRA adapters (hint: add --lora-rank R)");
  parse_lr_decay(o.lr_decay);
}

ModelConfig read_init_config(const fs::path& init) {
  fs::path cfg = init / "config.json";
  if (!fs::exists(cfg))
    throw InputError(cfg.string(), 0, "", "missing: --init must be a model directory",
                     "use RUN/final of an earlier stage");
  if (!fs::exists(init / "tokenizer.json"))
    throw InputError((init / "tokenizer.json").string(), 0, "",
                     "missing: the stage needs the model's tokenizer",
                     "copy tokenizer.json into the model directory");
  json j = json::parse(read_file(cfg), nullptr, false);
  if (j.is_discarded()) throw InputError(cfg.string(), 0, "", "not valid JSON");
  return ModelConfig::from_hf_json(j, cfg.string());
}

int64_t stage_total_steps(const StageOptions& o, int64_t items_per_epoch) {
  if (o.max_steps > 0) return o.max_steps;
  const int64_t per_step = int64_t(o.batch_size) * o.grad_accum * (o.comm ? o.comm->size() : 1);
  return std::max<int64_t>(1, (int64_t(o.epochs) * items_per_epoch + per_step - 1) / per_step);
}

LrSchedule stage_schedule(const StageOptions& o, int64_t total_steps) {
  LrSchedule s;
  s.decay = parse_lr_decay(o.lr_decay);
  s.total_steps = total_steps;
  s.lr = o.lr;
  s.min_lr = o.min_lr >= 0 ? o.min_lr : o.lr / 10;
  s.warmup_steps = o.warmup_steps >= 0 ? o.warmup_steps : total_steps / 20;
  return s;
}

void check_stage_output(const StageOptions& o) {
  if (o.resume) return;
  for (const char* f : {"config.yaml", "metrics.jsonl", "checkpoints", "final"})
    if (fs::exists(o.output / f))
      throw UsageError("output directory '" + o.output.string() + "' already holds a run (found " +
                       f + ") (hint: pass --resume to continue it, or choose a new --output)");
}

// Memory for the whole stage, from --init's config.json (or the fresh model's configuration)
// alone, before anything is allocated or written. Rows are --seq-len tokens or at most the model's
// context, so B x T bounds a micro-batch. With LoRA the base is frozen: no base gradients or AdamW
// moments (the adapters are small beside them).
void require_stage_memory(const std::string& name, const StageOptions& o,
                          const ModelConfig* fresh) {
  const ModelConfig cfg = fresh ? *fresh : read_init_config(o.init);
  const int T = o.seq_len > 0 ? o.seq_len : cfg.n_ctx;
  MemoryEstimate need = o.lora_rank > 0 ? load_memory(cfg) : training_memory(cfg, o.batch_size, T);
  if (o.lora_rank > 0)
    need.parts.push_back(
        {"activations", activation_floats(cfg, double(o.batch_size) * T) * sizeof(float)});
  const std::string rows = o.seq_len > 0 ? "rows of T=" + std::to_string(T) + " tokens"
                                         : "rows up to n_ctx=" + std::to_string(cfg.n_ctx);
  const std::string model = fresh
                                ? "a new " + cfg.arch + " model (L=" + std::to_string(cfg.n_layer) +
                                      ", C=" + std::to_string(cfg.n_embd) +
                                      ", V=" + std::to_string(cfg.vocab_size) + ")"
                                : "the model in " + o.init.string();
  require_memory(need,
                 name + " of " + model + " with --batch-size " + std::to_string(o.batch_size) +
                     " (" + rows + ")",
                 fresh                    ? "lower --n-layer, --n-embd, --batch-size or --seq-len"
                 : !o.memory_hint.empty() ? o.memory_hint
                                          : "lower --batch-size (raise --grad-accum to keep the "
                                            "batch), or use --lora-rank");
}

namespace {

// The loss metrics.jsonl logged for `step` (a finished run's final loss, reported again when it is
// resumed), or NaN when the line is missing.
double logged_loss(const fs::path& run_dir, int64_t step) {
  const fs::path file = run_dir / "metrics.jsonl";
  if (!fs::exists(file)) return std::nan("");
  const std::string text = read_file(file);
  size_t pos = 0;
  double loss = std::nan("");
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    json j = json::parse(text.substr(pos, nl - pos), nullptr, false);
    pos = nl + 1;
    if (j.is_object() && j.value("step", json()).is_number_integer() &&
        j["step"].get<int64_t>() == step && j.contains("loss") && j["loss"].is_number())
      loss = j["loss"].get<double>();
  }
  return loss;
}

// A copy of the model with its adapters folded in (the model itself is untouched): what a LoRA
// stage's --merge writes as final/.
Transformer merged_copy(const Transformer& model) {
  Transformer out(model.config());
  out.params().copy_from(model.params());
  if (model.has_lora()) model.lora()->merge_into(out.params());
  return out;
}

}  // namespace

StageRun begin_stage(const std::string& name, const StageOptions& o, json resume_config,
                     int64_t total_steps, std::vector<fs::path> tokenizer_files,
                     const std::function<void(Transformer&)>& prepare,
                     const std::optional<ModelConfig>& fresh) {
  check_stage_output(o);
  require_stage_memory(name, o, fresh ? &*fresh : nullptr);
  const bool root = writes_files(o);
  if (o.comm) o.comm->barrier();  // every rank checked --output before rank 0 writes into it
  if (root) ensure_writable_dir(o.output);
  if (o.threads > 0)
    omp_set_num_threads(o.threads);
  else if (o.comm && o.comm->size() > 1)
    omp_set_num_threads(default_threads_per_rank(*o.comm));
  if (root) std::fprintf(stderr, "%s: %s\n", name.c_str(), backend::backend_summary().c_str());
  StageRun run;
  run.name = name;
  run.opts = o;
  run.tokenizer_files = std::move(tokenizer_files);
  LrSchedule sched = stage_schedule(o, total_steps);
  resume_config["stage"] = name;
  resume_config["init"] = o.init.string();
  resume_config["batch_size"] = o.batch_size;
  resume_config["grad_accum"] = o.grad_accum;
  resume_config["lr"] = sched.lr;
  resume_config["min_lr"] = sched.min_lr;
  resume_config["warmup_steps"] = sched.warmup_steps;
  resume_config["lr_decay"] = o.lr_decay;
  resume_config["total_steps"] = total_steps;
  resume_config["weight_decay"] = o.weight_decay;
  resume_config["grad_clip"] = o.grad_clip;
  resume_config["beta1"] = o.beta1;
  resume_config["beta2"] = o.beta2;
  resume_config["seed"] = o.seed;
  // Resume is bit-exact for one precision: another precision is refused like any other change.
  resume_config["precision"] = backend::precision_name(backend::precision());
  resume_config["lora_rank"] = o.lora_rank;
  if (o.lora_rank > 0) {
    resume_config["lora_alpha"] = o.lora_alpha;
    resume_config["lora_targets"] = o.lora_targets;
  }
  // MFU's denominator: the arithmetic peak for the matmul precision in use (backend/peak.h), or
  // the one given (--peak-gflops), which skips the measurement.
  double peak_flops = o.peak_gflops * 1e9;
  std::string peak_note;
  if (o.peak_gflops > 0) {
    char given[96];
    std::snprintf(given, sizeof given, "given peak %.1f GFLOP/s (--peak-gflops)", o.peak_gflops);
    peak_note = given;
  } else {
    const backend::Peak peak = backend::machine_peak(backend::precision());
    peak_flops = peak.flops;
    peak_note = peak.describe();
  }
  if (root) std::fprintf(stderr, "mfu against the %s\n", peak_note.c_str());
  std::string model_note;
  if (fresh)
    model_note =
        "; new " + fresh->arch + " model, " + std::to_string(fresh->num_params()) + " parameters";
  char note[512];
  std::snprintf(note, sizeof note, "# %s: %lld steps%s%s; mfu against the %s\n", name.c_str(),
                static_cast<long long>(total_steps),
                o.lora_rank > 0 ? ", LoRA adapters train (base frozen)" : ", all weights train",
                model_note.c_str(), peak_note.c_str());
  if (root) write_file_atomic(o.output / "config.yaml", o.resolved_config_yaml + note);

  run.state.seed = o.seed;
  run.state.schedule = sched;
  run.state.config = resume_config;
  std::optional<fs::path> ckpt = o.resume ? find_latest_checkpoint(o.output) : std::nullopt;
  if (ckpt) {
    TrainerState saved = read_trainer_state(*ckpt);
    check_resume_compatible(saved.config, resume_config, *ckpt);
    check_resume_ranks(saved.ranks, o.comm ? o.comm->size() : 1, *ckpt);
    run.state = saved;
    run.model.emplace(Transformer::load(*ckpt));
    if (LoraAdapters::present(*ckpt)) run.model->load_lora(*ckpt);
    run.resumed_from = ckpt;
    std::fprintf(stderr, "resuming from %s (step %lld)\n", ckpt->c_str(),
                 static_cast<long long>(run.state.step));
    if (fs::exists(o.output / "start.json")) {
      json s = json::parse(read_file(o.output / "start.json"), nullptr, false);
      if (s.is_object()) run.start = s;
    }
  } else {
    if (o.resume)
      std::fprintf(stderr, "no checkpoint in %s yet: starting from %s\n", o.output.c_str(),
                   fresh ? "scratch" : "--init");
    if (fresh) {
      run.model.emplace(*fresh);
      run.model->init_weights(o.seed);
    } else {
      run.model.emplace(Transformer::load(o.init));
    }
    if (prepare) prepare(*run.model);
    if (o.lora_rank > 0) {
      LoraConfig lc;
      lc.rank = o.lora_rank;
      lc.alpha = static_cast<float>(o.lora_alpha);
      const ModelConfig& mc = run.model->config();
      lc.targets = parse_lora_targets(
          o.lora_targets.empty() ? mc.spec().default_lora_targets : o.lora_targets, mc);
      run.model->enable_lora(lc, o.seed);
    }
  }
  if (o.lora_rank > 0) {
    const LoraAdapters* a = run.model->lora();
    std::fprintf(stderr, "LoRA: rank %d, alpha %g, %zu adapter parameters (model %lld, frozen)\n",
                 a->config().rank, double(a->config().alpha), a->params().numel(),
                 static_cast<long long>(run.model->config().num_params()));
  }

  TrainLoopConfig& lc = run.loop;
  lc.adamw.beta1 = static_cast<float>(o.beta1);
  lc.adamw.beta2 = static_cast<float>(o.beta2);
  lc.adamw.weight_decay = static_cast<float>(o.weight_decay);
  lc.resume_from = ckpt;
  lc.grad_accum = o.grad_accum;
  lc.grad_clip = o.grad_clip;
  lc.eval_every = o.eval_every;
  lc.save_every = o.save_every;
  lc.keep_checkpoints = o.keep_checkpoints;
  lc.peak_flops = peak_flops;
  lc.run_dir = o.output;
  lc.label = name;
  lc.tokenizer_files = run.tokenizer_files;
  lc.comm = o.comm;
  lc.shard_optimizer = o.shard_optimizer;
  return run;
}

const json& stage_start_metrics(StageRun& run, const std::function<json()>& measure) {
  if (run.start.empty() && run.state.step == 0) {
    run.start = measure();
    if (writes_files(run.opts))
      write_file_atomic(run.opts.output / "start.json", run.start.dump(2) + "\n");
  }
  std::string line = "start (step 0):";
  for (const auto& [k, v] : run.start.items())
    line += " " + k + " " + (v.is_number() ? std::to_string(v.get<double>()) : v.dump());
  std::fprintf(stderr, "%s\n", line.c_str());
  return run.start;
}

TrainResult run_stage_loop(StageRun& run, Objective& objective, const TrainHooks& hooks) {
  if (run.finished()) {
    std::fprintf(stderr, "the run already finished (step %lld); rewriting final/\n",
                 static_cast<long long>(run.state.step));
    TrainResult r;
    r.steps_done = run.state.step;
    r.last_loss = logged_loss(run.opts.output, run.state.step);
    // The last evaluation is what summary.json reports: repeat it (cheap next to training).
    if (hooks.eval) {
      r.last_eval = hooks.eval();
      if (r.last_eval.count("val_loss")) r.last_val_loss = r.last_eval.at("val_loss");
    }
    return r;
  }
  return train_loop(objective, run.state, run.loop, hooks);
}

fs::path finish_stage(StageRun& run, const TrainResult& result, const json& headline,
                      const StageFinal& extra) {
  if (result.interrupted) return {};
  if (!writes_files(run.opts)) {  // rank 0 writes; the others wait so they can read what it wrote
    run.opts.comm->barrier();
    return run.opts.output / "final";
  }
  const StageOptions& o = run.opts;
  Transformer& m = *run.model;
  auto copy_tokenizer = [&](const fs::path& dir) {
    for (const auto& f : run.tokenizer_files)
      fs::copy_file(f, dir / f.filename(), fs::copy_options::overwrite_existing);
  };
  auto write_extra = [&](const fs::path& dir) {
    for (const StageFile& f : extra.files) f.write(dir / f.name);
  };
  const bool merge = o.merge || extra.whole_model;
  const fs::path final_dir = o.output / "final";
  // The adapter's base model (LoRA only: a fresh pretraining run has no --init).
  std::string base = m.has_lora() ? fs::absolute(o.init).lexically_normal().string() : "";
  if (m.has_lora() && !merge && m.config().vocab_size != read_init_config(o.init).vocab_size) {
    // The embeddings grew (new special tokens): the adapter's base is no longer --init but the
    // grown model, written next to it.
    write_dir_atomic(o.output / "base", [&](const fs::path& tmp) {
      m.save(tmp);
      copy_tokenizer(tmp);
    });
    base = fs::absolute(o.output / "base").lexically_normal().string();
  }
  if (!m.has_lora()) {
    write_dir_atomic(final_dir, [&](const fs::path& tmp) {
      m.save(tmp);
      copy_tokenizer(tmp);
      write_extra(tmp);
    });
  } else if (merge) {
    write_dir_atomic(o.output / "adapter", [&](const fs::path& tmp) {
      m.lora()->save(tmp, base);
      copy_tokenizer(tmp);
    });
    Transformer merged = merged_copy(m);
    write_dir_atomic(final_dir, [&](const fs::path& tmp) {
      merged.save(tmp);
      copy_tokenizer(tmp);
      write_extra(tmp);
    });
  } else {
    write_dir_atomic(final_dir, [&](const fs::path& tmp) {
      m.lora()->save(tmp, base);
      copy_tokenizer(tmp);
      write_extra(tmp);
    });
    std::fprintf(stderr,
                 "note: %s holds the LoRA adapter only (PEFT files; base model %s); pass --merge "
                 "for a model directory that generate/chat/serve load directly\n",
                 final_dir.c_str(), base.c_str());
  }
  json summary = {{"stage", run.name},
                  {"steps", result.steps_done},
                  {"precision", backend::precision_name(backend::precision())},
                  {"backend", backend::backend_summary()}};
  if (result.last_val_loss)
    summary["val_loss"] = *result.last_val_loss;
  else
    summary["val_loss"] = nullptr;
  if (!run.start.empty()) summary["start"] = run.start;
  for (const auto& [k, v] : headline.items()) summary[k] = v;
  write_file_atomic(o.output / "summary.json", summary.dump(2) + "\n");
  if (o.comm) o.comm->barrier();
  return final_dir;
}

}  // namespace lmforge
