#!/usr/bin/env bash
# Installs test dependencies, checks formatting, builds (warnings are errors), and runs the whole
# test suite (the README's second command). The ThreadSanitizer run of the server and scheduler
# tests (scripts/test-tsan.sh, a second, cold build in build-tsan/: ~9 min of building on 2 cores
# before its tests) is not part of it: with it CI would come within minutes of its 45-minute
# budget (the last CI run took 29.5 min). Run it with LMFORGE_TEST_TSAN=1 or by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/check-format.sh
scripts/build.sh -DLMFORGE_WERROR=ON
# Tests run two at a time on 2 cores: OpenMP threads that spin while waiting would stall each
# other (measured 20-50x slower small kernels), so waiting threads sleep instead.
export OMP_WAIT_POLICY=passive
ctest --test-dir build --output-on-failure -j "$(nproc)"
if [ "${LMFORGE_TEST_TSAN:-0}" = "1" ]; then
  scripts/test-tsan.sh -DLMFORGE_WERROR=ON
fi
