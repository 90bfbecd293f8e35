// Checkpoint directories: model + optimizer moments + trainer state, written atomically.
#include "lmforge/train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <regex>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/io/safetensors.h"

namespace lmforge {
namespace fs = std::filesystem;
using nlohmann::json;

json trainer_state_to_json(const TrainerState& s) {
  json j;
  j["format"] = kTrainerStateFormat;
  j["version"] = kTrainerStateVersion;
  j["step"] = s.step;
  j["tokens_seen"] = s.tokens_seen;
  j["data_position"] = s.data_position;
  j["seed"] = s.seed;
  j["elapsed_s"] = s.elapsed_s;
  j["ranks"] = s.ranks;
  j["schedule"] = {{"lr", s.schedule.lr},
                   {"min_lr", s.schedule.min_lr},
                   {"warmup_steps", s.schedule.warmup_steps},
                   {"total_steps", s.schedule.total_steps},
                   {"decay", to_string(s.schedule.decay)}};
  j["config"] = s.config;
  return j;
}

TrainerState trainer_state_from_json(const json& j, const std::string& file) {
  auto field = [&](const json& obj, const char* key) -> const json& {
    if (!obj.is_object() || !obj.contains(key))
      throw InputError(file, 0, key, "missing key", "the checkpoint is damaged; use an older one");
    return obj[key];
  };
  TrainerState s;
  try {
    if (field(j, "format") != kTrainerStateFormat || field(j, "version") != kTrainerStateVersion)
      throw InputError(file, 0, "format", "not an lmforge trainer state of version 1");
    s.step = field(j, "step").get<int64_t>();
    s.tokens_seen = field(j, "tokens_seen").get<int64_t>();
    s.data_position = field(j, "data_position").get<int64_t>();
    s.seed = field(j, "seed").get<uint64_t>();
    s.elapsed_s = field(j, "elapsed_s").get<double>();
    s.ranks = j.contains("ranks") ? j["ranks"].get<int>() : 1;  // absent before data parallelism
    const json& sc = field(j, "schedule");
    s.schedule.lr = field(sc, "lr").get<double>();
    s.schedule.min_lr = field(sc, "min_lr").get<double>();
    s.schedule.warmup_steps = field(sc, "warmup_steps").get<int64_t>();
    s.schedule.total_steps = field(sc, "total_steps").get<int64_t>();
    s.schedule.decay = parse_lr_decay(field(sc, "decay").get<std::string>());
    s.config = field(j, "config");
  } catch (const json::exception& e) {
    throw InputError(file, 0, "", std::string("ill-typed value: ") + e.what(),
                     "the checkpoint is damaged; use an older one");
  }
  return s;
}

void save_checkpoint(const fs::path& dir, const Transformer& model,
                     const std::vector<OptimizerGroup>& opts, const TrainerState& state,
                     const std::vector<fs::path>& tokenizer_files,
                     const std::function<void(const fs::path&)>& extra) {
  write_dir_atomic(dir, [&](const fs::path& tmp) {
    model.save(tmp);
    if (model.has_lora()) model.lora()->save(tmp);
    for (const auto& f : tokenizer_files)
      if (fs::exists(f)) fs::copy_file(f, tmp / f.filename(), fs::copy_options::overwrite_existing);
    std::vector<NamedTensor> tensors;
    int64_t step = 0;
    for (const OptimizerGroup& g : opts) {
      step = g.opt->step();
      for (const char* which : {"exp_avg", "exp_avg_sq"}) {
        const float* base = std::string(which) == "exp_avg" ? g.opt->m().data() : g.opt->v().data();
        for (const auto& s : g.opt->segments())
          tensors.push_back({std::string(which) + "." + g.prefix + s.name, DType::kF32, s.shape,
                             base + s.offset});
      }
    }
    save_safetensors(tmp / "optimizer.safetensors", tensors,
                     {{"format", "lmforge-adamw"}, {"step", std::to_string(step)}});
    if (extra) extra(tmp);
    // The files of this checkpoint, so that one missing later (a deletion cut short) shows.
    json j = trainer_state_to_json(state);
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(tmp))
      if (e.is_regular_file()) files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    j["files"] = files;
    write_file_atomic(tmp / "trainer_state.json", j.dump(2) + "\n");
  });
}

void load_optimizer_state(const fs::path& dir, AdamW& opt, const std::string& prefix) {
  fs::path path = dir / "optimizer.safetensors";
  SafetensorsFile f = SafetensorsFile::open(path);
  auto it = f.metadata().find("step");
  if (it == f.metadata().end())
    throw InputError(path.string(), 0, "__metadata__.step", "missing optimizer step count");
  opt.set_step(std::stoll(it->second));
  for (const char* which : {"exp_avg", "exp_avg_sq"}) {
    float* base = std::string(which) == "exp_avg" ? opt.m().data() : opt.v().data();
    for (const auto& s : opt.segments()) {
      std::string name = std::string(which) + "." + prefix + s.name;
      if (!f.has(name))
        throw InputError(path.string(), 0, name, "missing optimizer tensor",
                         "the checkpoint does not belong to this model");
      if (f.shape(name) != s.shape)
        throw InputError(path.string(), 0, name,
                         "shape " + shape_str(f.shape(name)) + ", expected " + shape_str(s.shape),
                         "the checkpoint does not belong to this model");
      f.read_f32(name, base + s.offset, s.numel);
    }
  }
}

TrainerState read_trainer_state(const fs::path& dir) {
  fs::path path = dir / "trainer_state.json";
  json j = json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    throw InputError(path.string(), 0, "", "not valid JSON", "the checkpoint is damaged");
  return trainer_state_from_json(j, path.string());
}

namespace {

// A checkpoint directory is complete when it holds every file its trainer_state.json lists
// ("files", written last by save_checkpoint) or, for checkpoints written before that list
// existed, the model and optimizer files every checkpoint has. A step-N that is not complete
// is the remains of a deletion cut short (an older lmforge pruned in place).
bool is_complete_checkpoint(const fs::path& dir) {
  std::error_code ec;
  const fs::path state = dir / "trainer_state.json";
  if (!fs::is_regular_file(state, ec)) return false;
  std::vector<std::string> need = {"config.json", "model.safetensors", "optimizer.safetensors"};
  const json j = json::parse(read_file(state), nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("files") && j["files"].is_array()) {
    need.clear();
    for (const auto& f : j["files"])
      if (f.is_string()) need.push_back(f.get<std::string>());
  }
  for (const auto& f : need)
    if (!fs::exists(dir / f, ec)) return false;
  return true;
}

bool is_step_name(const std::string& name, int64_t* step) {
  static const std::regex kName("step-([0-9]+)");
  std::smatch m;
  if (!std::regex_match(name, m, kName)) return false;
  if (step) *step = std::stoll(m[1].str());
  return true;
}

// Deletes a checkpoint so that a kill at any moment leaves either the complete directory or a
// "step-N.trash-PID" that nothing mistakes for a checkpoint and the next prune removes: the
// rename is atomic, the recursive delete is not.
void discard(const fs::path& dir) {
  std::error_code ec;
  const fs::path trash =
      dir.parent_path() / (dir.filename().string() + ".trash-" + std::to_string(getpid()));
  fs::remove_all(trash, ec);
  fs::rename(dir, trash, ec);
  if (ec) {
    fs::remove_all(dir, ec);
    return;
  }
  fsync_dir(dir.parent_path());
  fs::remove_all(trash, ec);
}

}  // namespace

std::vector<fs::path> list_checkpoints(const fs::path& run_dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  fs::path root = run_dir / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return {};
  for (const auto& e : fs::directory_iterator(root)) {
    int64_t step = 0;
    if (!e.is_directory() || !is_step_name(e.path().filename().string(), &step)) continue;
    if (!is_complete_checkpoint(e.path())) continue;
    found.emplace_back(step, e.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& [step, p] : found) out.push_back(p);
  return out;
}

std::optional<fs::path> find_latest_checkpoint(const fs::path& run_dir) {
  auto all = list_checkpoints(run_dir);
  if (all.empty()) return std::nullopt;
  return all.back();
}

void prune_checkpoints(const fs::path& run_dir, int keep) {
  std::error_code ec;
  fs::path root = run_dir / "checkpoints";
  if (fs::is_directory(root, ec)) {
    std::vector<fs::path> stale, broken;
    for (const auto& e : fs::directory_iterator(root)) {
      // Leftovers of a save or a prune killed half way (write_dir_atomic's temp and old names,
      // discard()'s trash name), and step-N directories a deletion cut short.
      std::string name = e.path().filename().string();
      if (name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos ||
          name.find(".trash-") != std::string::npos)
        stale.push_back(e.path());
      else if (e.is_directory() && is_step_name(name, nullptr) && !is_complete_checkpoint(e.path()))
        broken.push_back(e.path());
    }
    for (const auto& p : stale) fs::remove_all(p, ec);
    for (const auto& p : broken) discard(p);
  }
  if (keep <= 0) return;
  auto all = list_checkpoints(run_dir);
  for (size_t i = 0; i + keep < all.size(); ++i) discard(all[i]);
}

void check_resume_ranks(int saved, int now, const fs::path& checkpoint) {
  if (saved == now) return;
  throw UsageError("--resume: " + checkpoint.string() + " was written by a job of " +
                   std::to_string(saved) + " rank(s) and this job has " + std::to_string(now) +
                   "; the global batch (batch x grad-accum x ranks) would change (hint: relaunch "
                   "with mpirun -np " +
                   std::to_string(saved) +
                   " (or without mpirun for 1), or start a new --output with --init from this "
                   "checkpoint's weights)");
}

void check_resume_compatible(const json& saved, const json& now, const fs::path& checkpoint) {
  for (auto it = now.begin(); it != now.end(); ++it) {
    std::string was = saved.contains(it.key()) ? saved[it.key()].dump() : "(absent)";
    if (was != it.value().dump())
      throw UsageError("--resume: '" + it.key() + "' is " + it.value().dump() + " but was " + was +
                       " in " + checkpoint.string() +
                       " (hint: resume with the original settings, or start a new --output)");
  }
}

}  // namespace lmforge
