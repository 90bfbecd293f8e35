#!/usr/bin/env bash
# Installs test dependencies, builds, and runs the whole test suite (the README's second command).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
