// lmforge entry point: builds the subcommands from the registry and maps errors to exit codes
// (0 success, 1 runtime failure, 2 bad usage or bad input). Library code never exits.
// Under mpirun it also creates the MPI communicator (dist/comm.h) before any command runs: rank 0
// keeps stdout/stderr, the other ranks' go to /dev/null except their error messages, and an
// error on any rank ends the whole job with that rank's message and exit code (MPI_Abort).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/command.h"
#include "lmforge/backend/isa.h"
#include "lmforge/core/error.h"
#include "lmforge/dist/comm.h"

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
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (cores_are_free())
    setenv("GOMP_SPINCOUNT", "3000", 1);
  else
    setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default
}

// Set once in main() before any command runs, then only read (process_comm()).
std::unique_ptr<lmforge::Comm> g_comm;
int g_error_fd = 2;  // where this rank's error messages go (stderr, kept on every rank)

// The commands that train data-parallel; any other refuses to run on more than one rank (each
// rank would repeat the whole work and write the same files).
const std::set<std::string> kParallelCommands = {"pretrain", "finetune", "instruct",
                                                 "reward",   "dpo",      "ppo"};

std::string first_command(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (argv[i][0] != '-') return argv[i];
  return "";
}

// Creates the communicator; returns an exit code (>= 0) when this process must not go on.
int start_ranks(int* argc, char*** argv) {
  const lmforge::LaunchInfo li = lmforge::detect_launch();
  if (!li.launched || li.size <= 1) {
    g_comm = lmforge::make_single_process_comm();
    return -1;
  }
  if (!lmforge::mpi_built()) {
    std::fprintf(stderr,
                 "error: launched as one of %d ranks (%s is set) but this lmforge was built "
                 "without MPI (-DLMFORGE_MPI=OFF) (hint: install libopenmpi-dev and rebuild with "
                 "-DLMFORGE_MPI=ON, or run without mpirun)\n",
                 li.size, li.variable.c_str());
    return 2;
  }
  const std::string cmd = first_command(*argc, *argv);
  if (!cmd.empty() && !kParallelCommands.count(cmd)) {
    if (li.rank == 0)
      std::fprintf(stderr,
                   "error: '%s' does not run data-parallel; under mpirun only pretrain, finetune, "
                   "instruct, reward, dpo and ppo do (hint: run it without mpirun)\n",
                   cmd.c_str());
    return 2;
  }
  g_comm = lmforge::make_mpi_comm(argc, argv);
  if (g_comm->rank() != 0) {  // rank 0 alone logs; the others keep a handle for their errors
    g_error_fd = dup(2);
    const int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
      dup2(null_fd, 1);
      dup2(null_fd, 2);
      close(null_fd);
    }
  }
  return -1;
}

// Prints this rank's error and returns its exit code; on a multi-rank job ends every rank.
int fail(int code, const char* what) {
  const int ranks = g_comm ? g_comm->size() : 1;
  if (ranks > 1)
    dprintf(g_error_fd, "error (rank %d of %d): %s\n", g_comm->rank(), ranks, what);
  else
    dprintf(g_error_fd, "error: %s\n", what);
  if (ranks > 1) g_comm->abort(code);
  return code;
}
}  // namespace

lmforge::Comm& lmforge::cli::process_comm() {
  return *g_comm;
}

int main(int argc, char** argv) {
  choose_openmp_wait(argv);
  if (int code = start_ranks(&argc, &argv); code >= 0) return code;
  CLI::App app{
      "lmforge: create your own language model end to end (tokenizer, pretraining, fine-tuning,\n"
      "instruction tuning, RLHF), then use, measure, serve and export it.\n"
      "Run `lmforge COMMAND --help` for the options of each command.",
      "lmforge"};
  app.require_subcommand(1);
  app.set_version_flag("--version",  // second line: what the kernels run on (backend/isa.h)
                       [] { return "lmforge 0.1.0\n" + lmforge::backend::backend_summary(); });
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
    if (g_comm->size() > 1) g_comm->abort(2);
    return 2;
  } catch (const lmforge::InputError& e) {
    return fail(2, e.what());
  } catch (const lmforge::UsageError& e) {
    return fail(2, e.what());
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
  return 0;
}
