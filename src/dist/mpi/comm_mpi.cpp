// The MPI communicator (built with -DLMFORGE_MPI=ON): MPI_COMM_WORLD with the default
// MPI_ERRORS_ARE_FATAL handler, so a failed collective (a peer died, a link broke) ends the job
// instead of returning an error code nobody checks. Counts larger than an int are sent in
// pieces (all_reduce) or refused (reduce_scatter/all_gather shards of 2^31 floats: 8 GiB).
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/dist/comm.h"

namespace lmforge {

bool mpi_built() {
  return true;
}

namespace {

MPI_Op op_of(ReduceOp op) {
  return op == ReduceOp::kMax ? MPI_MAX : MPI_SUM;
}

class MpiComm : public Comm {
 public:
  MpiComm(int* argc, char*** argv) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    std::string v(version, size_t(len));
    name_ = "MPI (" + v.substr(0, v.find(',')) + ")";
  }
  ~MpiComm() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }
  std::string name() const override { return name_; }

  void all_reduce(float* data, size_t n, ReduceOp op) override {
    for (size_t at = 0; at < n; at += kMaxCount)
      MPI_Allreduce(MPI_IN_PLACE, data + at, count(std::min(kMaxCount, n - at)), MPI_FLOAT,
                    op_of(op), MPI_COMM_WORLD);
  }
  void all_reduce(double* data, size_t n, ReduceOp op) override {
    for (size_t at = 0; at < n; at += kMaxCount)
      MPI_Allreduce(MPI_IN_PLACE, data + at, count(std::min(kMaxCount, n - at)), MPI_DOUBLE,
                    op_of(op), MPI_COMM_WORLD);
  }
  void reduce_scatter(const float* in, float* out, size_t n) override {
    std::vector<int> counts = shard_counts(n);
    MPI_Reduce_scatter(in, out, counts.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  void all_gather(float* data, size_t n) override {
    std::vector<int> counts = shard_counts(n), displs(static_cast<size_t>(size_), 0);
    for (int r = 0; r < size_; ++r) displs[size_t(r)] = count(shard_range(n, r, size_).lo);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts.data(), displs.data(),
                   MPI_FLOAT, MPI_COMM_WORLD);
  }
  void broadcast(void* data, size_t bytes, int root) override {
    char* p = static_cast<char*>(data);
    for (size_t at = 0; at < bytes; at += kMaxCount)
      MPI_Bcast(p + at, count(std::min(kMaxCount, bytes - at)), MPI_BYTE, root, MPI_COMM_WORLD);
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  static constexpr size_t kMaxCount = size_t{1} << 30;
  static int count(size_t n) {
    check(n <= size_t(INT_MAX), "comm",
          "a message of " + std::to_string(n) + " elements exceeds MPI's int count");
    return int(n);
  }
  std::vector<int> shard_counts(size_t n) const {
    std::vector<int> c(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r) c[size_t(r)] = count(shard_range(n, r, size_).size());
    return c;
  }
  int rank_ = 0, size_ = 1, local_size_ = 1;
  std::string name_;
};

}  // namespace

std::unique_ptr<Comm> make_mpi_comm(int* argc, char*** argv) {
  return std::make_unique<MpiComm>(argc, argv);
}

}  // namespace lmforge
