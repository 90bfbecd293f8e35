#!/usr/bin/env bash
# Trains the same GPT-2-style model in lmforge (bench/train_bench.cpp) and in PyTorch
# (bench/train_bench.py, nanoGPT-style, Debian's torch, 2 threads, fp32) for the "tiny" and "small"
# configs, one after the other on the same machine, and prints tokens/s for both and the ratio.
# PyTorch runs at its best: OPENBLAS_CORETYPE is unset for it alone; lmforge runs with the
# environment as it is. Not a test: it never fails on speed.
# usage: bench/run_train_bench.sh [BUILD_DIR (build)] [STEPS (10)] [CONFIGS ("tiny small")]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
steps="${2:-10}"
configs="${3:-tiny small}"
bin="$build/train_bench"
if [[ ! -x "$bin" ]]; then
  echo "run_train_bench: $bin not found; build it first: ninja -C $build train_bench" >&2
  exit 2
fi
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
results=()
for cfg in $configs; do
  echo "== $cfg: lmforge"
  ours="$("$bin" --config "$cfg" --steps "$steps" | tee /dev/stderr | tail -n 1)"
  echo "== $cfg: pytorch (OPENBLAS_CORETYPE unset)"
  theirs="$(env -u OPENBLAS_CORETYPE /usr/bin/python3 "$here/train_bench.py" --config "$cfg" \
            --steps "$steps" --threads 2 | tail -n 1)"
  echo "$theirs"
  results+=("$ours" "$theirs")
done
/usr/bin/python3 - "${results[@]}" <<'PY'
import json, sys
rows = [json.loads(a) for a in sys.argv[1:]]
print(f"{'config':8} {'lmforge tok/s':>14} {'pytorch tok/s':>14} {'ratio':>7} {'lmforge MFU':>12} {'RSS/theory':>11}")
for ours, theirs in zip(rows[0::2], rows[1::2]):
    print(f"{ours['config']:8} {ours['tokens_per_s']:14.1f} {theirs['tokens_per_s']:14.1f} "
          f"{ours['tokens_per_s'] / theirs['tokens_per_s']:6.2f}x {100 * ours['mfu']:11.1f}% "
          f"{ours['peak_rss_mib'] / ours['theory_mib']:10.2f}x")
PY
