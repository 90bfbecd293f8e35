// The communicator seam of data-parallel training: the five collectives the trainer needs
// (all_reduce, reduce_scatter, all_gather, broadcast, barrier) behind one small interface, with
// a single-process implementation (every collective is the identity) and an MPI one
// (src/dist/mpi/, built with -DLMFORGE_MPI=ON; a build without MPI links src/dist/no_mpi/, whose
// factory refuses to start). The trainer calls comm.all_reduce(grads); the model never knows
// about ranks. NCCL (a GPU backend) would be a third implementation of the same interface.
// Sharding convention (ZeRO-1, reduce_scatter/all_gather): rank r owns the contiguous range
// shard_range(n, r, size) of a flat array of n elements; ranges differ in length by at most one.
// Not here: what is reduced and when (train/trainer.cpp), launching (mpirun does that).
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace lmforge {

enum class ReduceOp { kSum, kMax };

struct ShardRange {
  size_t lo = 0, hi = 0;  // [lo, hi)
  size_t size() const { return hi - lo; }
};
ShardRange shard_range(size_t n, int rank, int size);

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Ranks of this job on this machine (threads default to cores / local_size).
  virtual int local_size() const = 0;
  virtual std::string name() const = 0;  // "single process" or "MPI (Open MPI 4.1.4)"
  bool is_root() const { return rank() == 0; }

  // In place: data[i] = op over every rank's data[i].
  virtual void all_reduce(float* data, size_t n, ReduceOp op = ReduceOp::kSum) = 0;
  virtual void all_reduce(double* data, size_t n, ReduceOp op = ReduceOp::kSum) = 0;
  // in: n elements on every rank; out (shard_range(n, rank(), size()).size() elements): this
  // rank's range of the element-wise sum.
  virtual void reduce_scatter(const float* in, float* out, size_t n) = 0;
  // In place: each rank's range of data (n elements) is sent to every other rank.
  virtual void all_gather(float* data, size_t n) = 0;
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job with `code` (MPI_Abort); never returns.
  [[noreturn]] virtual void abort(int code) = 0;
};

// One process: rank 0 of 1; every collective leaves the data as it is.
std::unique_ptr<Comm> make_single_process_comm();

// How this process was started, read from the launcher's environment (Open MPI's
// OMPI_COMM_WORLD_SIZE / _RANK / _LOCAL_SIZE, or PMI_SIZE / PMI_RANK, PMIX_RANK of other
// launchers). size 1 and launched false when no launcher variable is set.
struct LaunchInfo {
  bool launched = false;  // a launcher variable was found
  int size = 1, rank = 0, local_size = 1;
  std::string variable;  // the variable that told (for messages)
};
LaunchInfo detect_launch();

// True when this build has the MPI communicator (-DLMFORGE_MPI=ON with MPI found).
bool mpi_built();
// Initializes MPI (MPI_THREAD_FUNNELED: OpenMP threads never call MPI) and returns the world
// communicator; MPI_Finalize runs when it is destroyed. Errors are fatal to the whole job
// (MPI_ERRORS_ARE_FATAL), so a dead rank ends the others instead of leaving them waiting. Throws
// UsageError in a build without MPI.
std::unique_ptr<Comm> make_mpi_comm(int* argc, char*** argv);

}  // namespace lmforge
