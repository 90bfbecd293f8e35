// lmforge entry point: builds the subcommands from the registry and maps errors to exit codes
// (0 success, 1 runtime failure, 2 bad usage or bad input). Library code never exits.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.h"
#include "lmforge/core/error.h"

namespace {
// How idle OpenMP threads wait between parallel regions. libgomp reads its settings once, before
// main, so when the user has set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT we choose, set the
// variable and re-run ourselves once. Measured on 2 cores (docs/PERF_NOTES.md):
// - on a quiet machine a short spin keeps the threads awake across the hundreds of small regions
//   of a step: decoding 3x faster than sleeping at once (the "passive" policy), training 12%;
// - with other work on the cores, a spinning thread steals the time of the one still working:
//   training 3.5-5x slower with libgomp's default spin (300,000), and still slower than passive
//   with a short one.
// So: a short spin (GOMP_SPINCOUNT=3000, a few microseconds) when no other process was runnable
// in any of a few samples of /proc/stat and the 1-minute load average is below the core count
// (it lags: right after a previous run it is still high, so it only vetoes sustained load);
// "passive" otherwise. Only speed depends on it: results are bitwise the same either way.
bool cores_are_free() {
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  double load1 = 1e9;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load1) != 1) load1 = 1e9;
    std::fclose(f);
  }
  if (!(load1 < cores)) return false;
  for (int sample = 0; sample < 3; sample++) {
    long running = -1;  // runnable tasks right now, this process included
    if (FILE* f = std::fopen("/proc/stat", "r")) {
      char line[256];
      while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "procs_running %ld", &running) == 1) break;
      std::fclose(f);
    }
    if (running != 1) return false;
    usleep(5000);
  }
  return true;
}

void choose_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr)
    return;
  if (cores_are_free())
    setenv("GOMP_SPINCOUNT", "3000", 1);
  else
    setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default
}
}  // namespace

int main(int argc, char** argv) {
  choose_openmp_wait(argv);
  CLI::App app{
      "lmforge: create your own language model end to end (tokenizer, pretraining, fine-tuning,\n"
      "instruction tuning, RLHF), then use, measure, serve and export it.\n"
      "Run `lmforge COMMAND --help` for the options of each command.",
      "lmforge"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lmforge 0.1.0");
  lmforge::cli::build_commands(app);
  try {
    std::vector<std::string> args(argv, argv + argc);
    args = lmforge::cli::expand_config_file(app, std::move(args));
    // CLI11 parses a reversed vector (it pops arguments from the back).
    std::vector<std::string> rev(args.rbegin(), args.rend() - 1);
    app.parse(rev);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const lmforge::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const lmforge::UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
