// Runs a pipeline (see demo/pipeline.h): each stage and each probe is a child process of the
// same binary, started with posix_spawn. Stage output streams to the terminal; probe output is
// captured into DIR/logs/. While a child runs, the runner ignores SIGINT so that Ctrl-C reaches
// the child (which checkpoints and exits) and the runner can still record the state.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "demo/pipeline_state.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/demo/pipeline.h"

extern char** environ;

namespace lmforge {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

// Where a child's stdout/stderr go: "" = inherit, otherwise a file (truncated, or appended).
struct Redirect {
  std::string out, err;
  bool append_err = true;
  bool append_out = false;
};

int run_child(const fs::path& binary, const std::vector<std::string>& args, const Redirect& r) {
  std::vector<std::string> full = {"lmforge"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (!r.out.empty())
    posix_spawn_file_actions_addopen(
        &fa, 1, r.out.c_str(), O_WRONLY | O_CREAT | (r.append_out ? O_APPEND : O_TRUNC), 0644);
  if (!r.err.empty() && r.err == r.out)
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  else if (!r.err.empty())
    posix_spawn_file_actions_addopen(
        &fa, 2, r.err.c_str(), O_WRONLY | O_CREAT | (r.append_err ? O_APPEND : O_TRUNC), 0644);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGINT);
  sigaddset(&def, SIGTERM);
  posix_spawnattr_setsigdefault(&at, &def);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
  struct sigaction ign {
  }, old_int{}, old_term{};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ign, &old_int);
  sigaction(SIGTERM, &ign, &old_term);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &fa, &at, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  int status = 0;
  if (rc == 0)
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (rc != 0) throw RuntimeError("cannot start " + binary.string() + ": " + std::strerror(rc));
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

std::string join(const std::vector<std::string>& w) {
  std::string s;
  for (const auto& x : w) s += (s.empty() ? "" : " ") + x;
  return s;
}

}  // namespace

// ---- probes: each a child process whose stdout is JSON ----
namespace pipeline_detail {

ProbeRunner::ProbeRunner(fs::path binary, fs::path dir)
    : binary_(std::move(binary)), dir_(std::move(dir)) {
  fs::create_directories(dir_ / "logs");
}

std::optional<Json> ProbeRunner::json_of(const std::vector<std::string>& args) const {
  const fs::path out = dir_ / "logs" / "probe-stdout.txt";
  const fs::path log = dir_ / "logs" / "probes.log";
  {
    std::ofstream l(log, std::ios::app);
    l << "$ " << shell_command(args) << "\n";
  }
  const int code = run_child(binary_, args, {out.string(), log.string(), true});
  std::string text = fs::exists(out) ? read_file(out) : "";
  if (code != 0) {
    std::fprintf(stderr, "  probe failed (exit %d): %s (see %s)\n", code,
                 shell_command(args).c_str(), log.c_str());
    return std::nullopt;
  }
  // The JSON is the last non-empty line (commands print nothing else on stdout with --json,
  // but be lenient).
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  const size_t nl = text.rfind('\n');
  try {
    return Json::parse(nl == std::string::npos ? text : text.substr(nl + 1));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "  probe output is not JSON: %s\n", shell_command(args).c_str());
    return std::nullopt;
  }
}

bool ProbeRunner::available(const std::vector<std::string>& command) const {
  // CLI11 answers `lmforge unknown --help` with the root's help and exit 0, so the usage line
  // must name the command.
  const std::string h = help_text(command);
  const std::string usage = "Usage: lmforge " + join(command);
  const size_t p = h.find(usage);
  return p != std::string::npos && p + usage.size() < h.size() &&
         (h[p + usage.size()] == ' ' || h[p + usage.size()] == '\n');
}

std::string ProbeRunner::help_text(const std::vector<std::string>& command) const {
  std::vector<std::string> a = command;
  a.push_back("--help");
  const fs::path out = dir_ / "logs" / "help.txt";
  if (run_child(binary_, a, {out.string(), "/dev/null", false}) != 0) return "";
  return read_file(out);
}

int ProbeRunner::run_stage(const std::vector<std::string>& args) const {
  return run_child(binary_, args, {});
}

int ProbeRunner::run_logged(const std::vector<std::string>& args, const fs::path& log) const {
  return run_child(binary_, args, {log.string(), log.string(), true, true});
}

}  // namespace pipeline_detail
}  // namespace lmforge

namespace lmforge {
namespace {

using pipeline_detail::ProbeRunner;

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

Json stage_record(const PipelineStage& s) {
  const fs::path metrics = s.output.empty() ? fs::path() : fs::path(s.output) / "metrics.jsonl";
  return Json{{"name", s.name},
              {"title", s.title},
              {"what", s.what},
              {"command", shell_command(stage_args(s))},
              {"output", s.output.empty() ? Json() : Json(s.output)},
              {"status", "pending"},
              {"elapsed_s", nullptr},
              {"tokens_per_s", nullptr},
              {"metrics", nullptr},
              {"probes", Json::object()},
              {"samples", Json::array()}};
}

class StateFile {
 public:
  StateFile(const Pipeline& p, const fs::path& dir) : path_(dir / "state.json") {
    Json old;
    if (fs::exists(path_)) {
      try {
        old = Json::parse(read_file(path_));
      } catch (const std::exception&) {
        std::fprintf(stderr, "note: %s is not valid JSON; starting a fresh state\n", path_.c_str());
      }
    }
    state_ = {{"format", "lmforge-pipeline-state"},
              {"version", 1},
              {"title", p.title},
              {"simulated_ranker", p.simulated_ranker ? Json(*p.simulated_ranker) : Json()},
              {"stages", Json::array()}};
    for (const auto& s : p.stages) {
      Json rec = stage_record(s);
      // Keep what an earlier run measured for the same stage and command.
      if (old.contains("stages") && old["stages"].is_array())
        for (const auto& o : old["stages"])
          if (o.value("name", "") == s.name && o.value("command", "") == rec["command"]) {
            for (const char* k : {"elapsed_s", "tokens_per_s", "metrics", "probes", "samples"})
              if (o.contains(k)) rec[k] = o[k];
            if (o.value("status", "") == "done") rec["status"] = "done";
          }
      state_["stages"].push_back(rec);
    }
  }
  Json& stage(size_t i) { return state_["stages"][i]; }
  void save() const { write_file_atomic(path_, state_.dump(2) + "\n"); }

 private:
  fs::path path_;
  Json state_;
};

bool stage_done(const PipelineStage& s) {
  return !s.done_when.empty() && fs::exists(s.done_when);
}

}  // namespace

void run_pipeline(const Pipeline& p, const RunPipelineOptions& opt) {
  ensure_writable_dir(opt.output);
  const fs::path dir = fs::absolute(opt.output);
  ProbeRunner runner(opt.binary, dir);
  write_file_atomic(dir / "pipeline.yaml", pipeline_yaml(p));

  // Every command of a stage still to run, and each of its options, must exist before
  // anything starts: a typo or an older binary fails in a second, not after an hour.
  std::vector<std::string> missing, bad_options;
  std::map<std::string, std::string> helps;
  for (const auto& s : p.stages) {
    if (stage_done(s)) continue;
    const std::string c = join(s.command);
    if (!helps.count(c))
      helps[c] = runner.available(s.command) ? runner.help_text(s.command) : std::string();
    if (helps[c].empty()) {
      missing.push_back("`lmforge " + c + "` (stage " + s.name + ")");
      continue;
    }
    for (const auto& [k, v] : s.options) {
      const std::string flag = "--" + k;
      bool found = false;
      for (size_t q = helps[c].find(flag); q != std::string::npos && !found;
           q = helps[c].find(flag, q + 1)) {
        const size_t e = q + flag.size();
        found = (q == 0 || helps[c][q - 1] == ' ' || helps[c][q - 1] == ',') &&
                (e == helps[c].size() ||
                 !(std::isalnum((unsigned char)helps[c][e]) || helps[c][e] == '-'));
      }
      if (!found) bad_options.push_back(flag + " (stage " + s.name + ", `lmforge " + c + "`)");
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw UsageError("this lmforge has no command for " + list +
                     " (hint: update and rebuild lmforge, or remove those stages from the "
                     "pipeline)");
  }
  if (!bad_options.empty()) {
    std::string list;
    for (const auto& m : bad_options) list += (list.empty() ? "" : ", ") + m;
    throw UsageError("unknown options in the pipeline: " + list +
                     " (hint: see `lmforge COMMAND --help`; update lmforge if the option is new)");
  }
  const bool have_report = opt.report && runner.available({"report"});
  if (opt.report && !have_report)
    std::fprintf(stderr,
                 "note: `lmforge report` is not in this build; no report card is written\n");

  StateFile state(p, dir);
  state.save();
  Json prev_probes = Json::object();
  std::string prev_name = "before";
  for (size_t i = 0; i < p.stages.size(); ++i) {
    const PipelineStage& s = p.stages[i];
    Json& rec = state.stage(i);
    std::fprintf(stdout, "\n== stage %zu/%zu: %s (%s)\n", i + 1, p.stages.size(), s.title.c_str(),
                 s.name.c_str());
    if (!s.what.empty()) std::fprintf(stdout, "   %s\n", s.what.c_str());
    std::fflush(stdout);
    const bool done = stage_done(s);
    if (done) {
      std::fprintf(stdout, "   already done (%s exists): skipped\n", s.done_when.c_str());
    } else {
      std::vector<std::string> args = stage_args(s);
      // Training commands continue from their newest checkpoint when the output exists.
      const bool has_resume_flag = std::any_of(s.options.begin(), s.options.end(),
                                               [](auto& o) { return o.first == "resume"; });
      if (!has_resume_flag && !s.output.empty() && fs::exists(s.output) &&
          runner.help_text(s.command).find("--resume") != std::string::npos)
        args.push_back("--resume");
      std::fprintf(stdout, "   $ %s\n", shell_command(args).c_str());
      std::fflush(stdout);
      rec["status"] = "running";
      rec["command"] = shell_command(args);
      rec["probes"] = Json::object();
      rec["samples"] = Json::array();
      state.save();
      const double t0 = now_s();
      const int code = runner.run_stage(args);
      const double prev_elapsed =
          rec["elapsed_s"].is_number() ? rec["elapsed_s"].get<double>() : 0.0;
      rec["elapsed_s"] = std::round((prev_elapsed + now_s() - t0) * 1000) / 1000;
      if (code != 0 || !(s.done_when.empty() || fs::exists(s.done_when))) {
        const bool interrupted = code == 130 || code == 128 + SIGINT || code == 128 + SIGTERM;
        rec["status"] = interrupted ? "pending" : "failed";
        state.save();
        if (interrupted)
          throw RuntimeError("interrupted in stage " + s.name +
                             "; run the same command again to resume where it stopped");
        throw RuntimeError("stage " + s.name + " failed (`" + shell_command(args) + "` exited " +
                           std::to_string(code) +
                           (code == 0 ? " but did not write " + s.done_when : std::string()) + ")");
      }
    }
    rec["status"] = "done";
    if (!s.output.empty() && fs::exists(fs::path(s.output) / "metrics.jsonl")) {
      rec["metrics"] = (fs::path(s.output) / "metrics.jsonl").string();
      rec["tokens_per_s"] =
          pipeline_detail::mean_tokens_per_s(fs::path(s.output) / "metrics.jsonl");
    }
    const bool have_probes = done && rec["probes"].is_object() && !rec["probes"].empty();
    if (s.probes != "none" && !have_probes) {
      std::fprintf(stdout, "   probing the model...\n");
      std::fflush(stdout);
      Json m = pipeline_detail::measure_probes(s, p.probes, runner,
                                               pipeline_detail::alignment_baseline(p, i));
      rec["probes"] = m["probes"];
      rec["samples"] = m["samples"];
    }
    state.save();
    if (s.probes != "none") {
      std::string table =
          pipeline_detail::changes_table(prev_name, prev_probes, s.name, rec["probes"]);
      if (!table.empty()) std::fprintf(stdout, "   what changed:\n%s", table.c_str());
      for (const auto& smp : rec["samples"]) {
        std::string a = smp.value("answer", "");
        for (char& c : a)
          if (c == '\n') c = ' ';
        if (a.size() > 160) a = a.substr(0, 157) + "...";
        std::string q = smp.value("prompt", "");
        for (size_t k = q.find('\n'); k != std::string::npos; k = q.find('\n', k + 2))
          q.replace(k, 1, "\\n");
        std::fprintf(stdout, "   sample: %s -> %s\n", q.c_str(), a.c_str());
      }
      std::fflush(stdout);
      // A summary-only stage (the reward model) is not the next stage's baseline: DPO and PPO
      // compare with the policy they start from.
      if (!rec["probes"].empty() && s.probes == "model") {
        prev_probes = rec["probes"];
        prev_name = s.name;
      }
    }
    if (have_report) {
      const fs::path log = dir / "logs" / "report.log";
      if (runner.run_logged({"report", "--dir", dir.string()}, log) != 0)
        std::fprintf(stderr, "  note: `lmforge report` failed (see %s)\n", log.c_str());
      else
        std::fprintf(stdout, "   report card: %s\n", (dir / "report.html").c_str());
    }
  }
  std::fprintf(stdout, "\npipeline complete: %s\n", (dir / "state.json").c_str());
}

}  // namespace lmforge
