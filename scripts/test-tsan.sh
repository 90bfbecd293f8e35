#!/usr/bin/env bash
# ThreadSanitizer run of the HTTP servers and the request scheduler, the code where threads meet:
# builds `lmforge` (the server tests start the binary) and the tests of tests/serve/ plus
# prefix_cache_test (the scheduler in process) into build-tsan/ with -DLMFORGE_TSAN=ON, runs them,
# and fails if any process, the servers included, reported a data race.
# OMP_NUM_THREADS=1: libgomp is not built with TSan, so its barriers are invisible to it and every
# parallel loop would be reported as a race; one OpenMP thread per caller leaves the server's own
# threads (HTTP workers, the scheduler) as the only concurrency, which is what this run is for.
# Usage: scripts/test-tsan.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-tsan
tests=(prefix_cache_test)
for f in tests/serve/*_test.cpp; do tests+=("$(basename "$f" .cpp)"); done
# -O1 -g1: a third of -O3's compile time, line numbers in the reports.
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DLMFORGE_TSAN=ON -DLMFORGE_BENCH=OFF "$@"
cmake --build "$dir" -j "$(nproc)" --target lmforge "${tests[@]}"
reports="$PWD/$dir/tsan-reports"
rm -rf "$reports"
mkdir -p "$reports"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
export TSAN_OPTIONS="log_path=$reports/tsan second_deadlock_stack=1"
# GCC 12's TSan runtime cannot map its shadow memory when the kernel randomizes mmap with more
# than 28 bits (vm.mmap_rnd_bits = 32 on some newer kernels): run without ASLR there.
norand=()
if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)" -gt 28 ]; then
  norand=(setarch "$(uname -m)" -R)
fi
status=0
"${norand[@]}" ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" \
  -R "^($(IFS='|'; echo "${tests[*]}"))\$" || status=1
if compgen -G "$reports/tsan.*" >/dev/null; then
  cat "$reports"/tsan.* >&2
  echo "test-tsan: ThreadSanitizer reported races (above; one file per process in $reports)" >&2
  status=1
fi
exit $status
