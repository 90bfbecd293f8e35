#!/usr/bin/env bash
# Installs test dependencies, builds, and runs the whole test suite (the README's second command).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
# Tests run two at a time on 2 cores: OpenMP threads that spin while waiting would stall each
# other (measured 20-50x slower small kernels), so waiting threads sleep instead.
export OMP_WAIT_POLICY=passive
ctest --test-dir build --output-on-failure -j "$(nproc)"
