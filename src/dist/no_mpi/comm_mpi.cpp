// The MPI communicator's stand-in for a build without MPI (-DLMFORGE_MPI=OFF): the factory
// refuses with a message saying so, so no #ifdef reaches the callers.
#include "lmforge/core/error.h"
#include "lmforge/dist/comm.h"

namespace lmforge {

bool mpi_built() {
  return false;
}

std::unique_ptr<Comm> make_mpi_comm(int*, char***) {
  throw UsageError(
      "this lmforge was built without MPI (-DLMFORGE_MPI=OFF), so it cannot run as one rank of "
      "an mpirun job (hint: install libopenmpi-dev and rebuild with -DLMFORGE_MPI=ON, or run "
      "without mpirun)");
}

}  // namespace lmforge
