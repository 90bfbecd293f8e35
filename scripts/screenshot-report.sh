#!/usr/bin/env bash
# Screenshot of a run's report card (DIR/report.html) in headless Chromium, with the same page
# driver as the e2e test (tests/e2e/report/report_page.cjs). Used to refresh docs/report-card.png:
#   scripts/screenshot-report.sh runs/demo docs/report-card.png
# usage: screenshot-report.sh DIR OUT.png [--dark] [--width N] [--height N] [--check]
#   --dark      dark colour scheme          --width N   viewport width (default 1200)
#   --height N  only the top N pixels (default: the whole page)
#   --check     also run the e2e checks on the page (charts have data, no console errors, ...)
# Needs node, npm and Debian's chromium (/usr/bin/chromium). playwright-core@1.65.1 is installed
# once from tests/e2e/report/package-lock.json into $LMFORGE_NODE_CACHE (default
# ~/.cache/lmforge/report-node). When LMFORGE is set (path to the lmforge binary), the report is
# regenerated first with `lmforge report --dir DIR`.
set -euo pipefail
if [ $# -lt 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 2
fi
dir="$1"
out="$2"
shift 2
repo="$(cd "$(dirname "$0")/.." && pwd)"
src="$repo/tests/e2e/report"
cache="${LMFORGE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lmforge/report-node}"
command -v node >/dev/null || { echo "error: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: npm is not installed" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "error: /usr/bin/chromium is not installed (apt-get install chromium)" >&2; exit 1; }
if [ -n "${LMFORGE:-}" ]; then
  "$LMFORGE" report --dir "$dir"
fi
[ -f "$dir/report.html" ] || { echo "error: $dir/report.html does not exist; run \`lmforge report --dir $dir\` first" >&2; exit 2; }
mkdir -p "$cache"
if ! cmp -s "$src/package-lock.json" "$cache/package-lock.json" || [ ! -d "$cache/node_modules/playwright-core" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$cache/"
  (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
mkdir -p "$(dirname "$out")"
exec node "$src/report_page.cjs" --modules "$cache" --html "$dir/report.html" --screenshot "$out" "$@"
