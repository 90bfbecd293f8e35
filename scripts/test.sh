#!/usr/bin/env bash
# Installs test dependencies, checks formatting, builds (warnings are errors), and runs the whole
# test suite (the README's second command), then the ThreadSanitizer run of the server and
# scheduler tests (scripts/test-tsan.sh, a second build in build-tsan/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/check-format.sh
scripts/build.sh -DLMFORGE_WERROR=ON
# Tests run two at a time on 2 cores: OpenMP threads that spin while waiting would stall each
# other (measured 20-50x slower small kernels), so waiting threads sleep instead.
export OMP_WAIT_POLICY=passive
ctest --test-dir build --output-on-failure -j "$(nproc)"
scripts/test-tsan.sh -DLMFORGE_WERROR=ON
