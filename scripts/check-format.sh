#!/usr/bin/env bash
# Checks that every C++ file under src/ include/ tests/ bench/ is formatted as .clang-format says,
# with clang-format 14 (Debian 12's; other versions format some constructs differently). Prints
# the files that deviate and the command that fixes them; exit 1 if any deviate.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=""
for c in clang-format-14 clang-format; do
  if command -v "$c" >/dev/null && "$c" --version | grep -q 'version 14\.'; then cf="$c"; break; fi
done
if [ -z "$cf" ]; then
  echo "check-format: clang-format 14 is not installed (apt-get install clang-format-14)" >&2
  exit 1
fi
mapfile -t files < <(find src include tests bench -type f \( -name '*.cpp' -o -name '*.h' \) | sort)
bad=$("$cf" --dry-run -Werror "${files[@]}" 2>&1 | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*clang-format.*/\1/p' | sort -u) || true
if [ -n "$bad" ]; then
  echo "check-format: $(echo "$bad" | wc -l) file(s) deviate from .clang-format:" >&2
  echo "$bad" | sed 's/^/  /' >&2
  echo "fix with: $cf -i $(echo "$bad" | tr '\n' ' ')" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted ($cf)"
