#!/usr/bin/env bash
# End-to-end test of the report card in real headless Chromium: writes the report of the fixture
# run (tests/demo/fixtures/report_run) with `lmforge report`, then report_page.cjs opens it via
# file:// and checks it (renders without console errors, every chart has path data, the probe
# table lists the stages, injection attempts stay text, dark mode switches colours) and saves a
# screenshot into the build tree. playwright-core is installed from the committed package-lock.json
# (npm ci) into CACHE. Missing node, npm or /usr/bin/chromium, or a failed install, fails the test.
# usage: run.sh LMFORGE_BINARY CACHE_DIR
set -euo pipefail
lmforge="$1"
cache="$2"
here="$(cd "$(dirname "$0")" && pwd)"
fixture="$here/../../demo/fixtures/report_run"
command -v node >/dev/null || { echo "FAIL: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "FAIL: npm is not installed" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium is not installed (apt-get install chromium)" >&2; exit 1; }
mkdir -p "$cache"
# Reinstall only when the lock file changed.
if ! cmp -s "$here/package-lock.json" "$cache/package-lock.json" || [ ! -d "$cache/node_modules/playwright-core" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$cache/"
  (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

work="$cache/run"
rm -rf "$work"
cp -r "$fixture" "$work"

# A directory without state.json is bad input: exit 2 with a hint, nothing written.
set +e
"$lmforge" report --dir "$cache/no-such-run" 2>"$cache/missing.err"
rc=$?
set -e
[ "$rc" = 2 ] || { echo "FAIL: report on a missing run exited $rc, expected 2" >&2; exit 1; }
grep -q "state.json" "$cache/missing.err" || { echo "FAIL: error does not name state.json" >&2; cat "$cache/missing.err" >&2; exit 1; }
echo "ok   missing state.json exits 2 and names the file"

"$lmforge" report --dir "$work"
for f in report.html report.md report-assets/02-pretrain-loss.svg report-assets/time.svg; do
  [ -s "$work/$f" ] || { echo "FAIL: $work/$f was not written" >&2; exit 1; }
done
echo "ok   lmforge report wrote report.html, report.md and report-assets/"

exec node "$here/report_page.cjs" --modules "$cache" --html "$work/report.html" \
  --screenshot "$cache/report-card.png" --check --expect-notice \
  --stages tokenizer,pretrain,cpt,finetune,instruct,reward,ppo,chat
