#!/usr/bin/env bash
# Runs tests/e2e/tokenizer_parity/parity.mjs with its pinned npm packages installed (npm ci from the
# committed package-lock.json) into a cache directory in the build tree. Missing node or npm, or a
# failed install, fails the test: it never passes without checking.
set -euo pipefail
lmforge="$1"
cache="$2"
src="$(cd "$(dirname "$0")/tokenizer_parity" && pwd)"
command -v node >/dev/null || { echo "FAIL: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "FAIL: npm is not installed" >&2; exit 1; }
mkdir -p "$cache"
# Reinstall only when the lock file changed.
if ! cmp -s "$src/package-lock.json" "$cache/package-lock.json" || [ ! -d "$cache/node_modules" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$cache/"
  (cd "$cache" && npm ci --no-audit --no-fund >&2)
fi
cp "$src"/*.mjs "$cache/"
exec node "$cache/parity.mjs" "$lmforge" "$cache/work"
