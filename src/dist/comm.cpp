// The single-process communicator, the shard ranges and launch detection (see dist/comm.h).
#include "lmforge/dist/comm.h"

#include <cstdlib>
#include <string>

namespace lmforge {

ShardRange shard_range(size_t n, int rank, int size) {
  // The first n % size ranks hold one element more.
  const size_t q = n / size_t(size), rem = n % size_t(size), r = size_t(rank);
  ShardRange s;
  s.lo = r * q + (r < rem ? r : rem);
  s.hi = s.lo + q + (r < rem ? 1 : 0);
  return s;
}

namespace {

class SingleProcessComm : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  std::string name() const override { return "single process"; }
  void all_reduce(float*, size_t, ReduceOp) override {}
  void all_reduce(double*, size_t, ReduceOp) override {}
  void reduce_scatter(const float* in, float* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = in[i];
  }
  void all_gather(float*, size_t) override {}
  void broadcast(void*, size_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
};

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return (end && *end == '\0' && x >= 0) ? int(x) : fallback;
}

}  // namespace

std::unique_ptr<Comm> make_single_process_comm() {
  return std::make_unique<SingleProcessComm>();
}

LaunchInfo detect_launch() {
  LaunchInfo li;
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (std::getenv(v)) {
      li.launched = true;
      li.variable = v;
      li.size = env_int(v, 1);
      break;
    }
  }
  if (!li.launched && std::getenv("PMIX_RANK")) {  // PMIx launchers that only set the rank
    li.launched = true;
    li.variable = "PMIX_RANK";
  }
  li.rank = env_int("OMPI_COMM_WORLD_RANK", env_int("PMI_RANK", env_int("PMIX_RANK", 0)));
  li.local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", env_int("MPI_LOCALNRANKS", 1));
  if (li.local_size < 1) li.local_size = 1;
  return li;
}

}  // namespace lmforge
