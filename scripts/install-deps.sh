#!/usr/bin/env bash
# Installs the Debian packages lmforge needs to build (and, with --test, to run its tests).
# Works as root or with sudo on Debian 12 / Ubuntu 22.04+.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
BUILD_PKGS="cmake ninja-build g++ pkg-config libopenblas-dev nlohmann-json3-dev libcli11-dev
  libyaml-cpp-dev libpcre2-dev libsqlite3-dev libcpp-httplib-dev zlib1g-dev ca-certificates
  libopenmpi-dev openmpi-bin libdnnl-dev"
TEST_PKGS="libgtest-dev libgmock-dev python3 python3-torch python3-numpy python3-jinja2 sentencepiece chromium clang
  clang-format-14"
PKGS="$BUILD_PKGS"
if [ "${1:-}" = "--test" ]; then
  PKGS="$PKGS $TEST_PKGS"
  # Node may come from elsewhere (e.g. NodeSource, whose nodejs bundles npm and conflicts with
  # Debian's npm package): only install Debian's when the commands are missing.
  command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
  command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
fi
export DEBIAN_FRONTEND=noninteractive
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
