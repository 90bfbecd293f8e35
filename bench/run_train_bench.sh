#!/usr/bin/env bash
# Trains the same GPT-2-style model in lmforge (bench/train_bench.cpp) and in PyTorch
# (bench/train_bench.py, nanoGPT-style, Debian's torch, 2 threads, fp32) for the "tiny" and "small"
# configs, alternating the two on the same machine, and prints tokens/s for both and the ratio
# (the best of REPEAT runs of each, so that a burst of load from other processes on a shared
# machine hits neither side alone). Each side runs at its best: both are tried under both OpenMP
# wait policies (OMP_WAIT_POLICY=passive, and a short spin GOMP_SPINCOUNT=3000: the two that
# lmforge's CLI chooses between, src/cli/main.cpp) and the better run counts; OPENBLAS_CORETYPE is
# unset for PyTorch alone; lmforge runs with the environment as it is otherwise.
# Not a test: it never fails on speed.
# usage: bench/run_train_bench.sh [BUILD_DIR (build)] [STEPS (10)] [CONFIGS ("tiny small")] [REPEAT (1)]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
steps="${2:-10}"
configs="${3:-tiny small}"
repeat="${4:-1}"
bin="$build/train_bench"
if [[ ! -x "$bin" ]]; then
  echo "run_train_bench: $bin not found; build it first: ninja -C $build train_bench" >&2
  exit 2
fi
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(grep -o -w -m1 -E 'avx512f|avx2' /proc/cpuinfo | head -1 || true);" \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
results=()
policies=("OMP_WAIT_POLICY=passive" "GOMP_SPINCOUNT=3000")
for cfg in $configs; do
  for ((r = 1; r <= repeat; r++)); do
    for policy in "${policies[@]}"; do
      echo "== $cfg ($r/$repeat, $policy): lmforge"
      out="$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$policy" "$bin" --config "$cfg" --steps "$steps")"
      echo "$out"
      ours="$(tail -n 1 <<<"$out")"
      echo "== $cfg ($r/$repeat, $policy): pytorch (OPENBLAS_CORETYPE unset)"
      theirs="$(env -u OPENBLAS_CORETYPE -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$policy" \
                /usr/bin/python3 "$here/train_bench.py" --config "$cfg" --steps "$steps" \
                --threads 2 | tail -n 1)"
      echo "$theirs"
      results+=("$ours" "$theirs")
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "${results[@]}" <<'PY'
import json, sys
rows = [json.loads(a) for a in sys.argv[1:]]
best = {}
for r in rows:
    k = (r["config"], r["impl"])
    if k not in best or r["tokens_per_s"] > best[k]["tokens_per_s"]:
        best[k] = r
print(f"{'config':8} {'lmforge tok/s':>14} {'pytorch tok/s':>14} {'ratio':>7} {'lmforge GFLOP/s':>16} "
      f"{'MFU':>6} {'peak RSS':>9} {'theory':>8}")
for cfg in dict.fromkeys(r["config"] for r in rows):
    o, t = best[(cfg, "lmforge")], best[(cfg, "pytorch")]
    print(f"{cfg:8} {o['tokens_per_s']:14.1f} {t['tokens_per_s']:14.1f} {o['tokens_per_s'] / t['tokens_per_s']:6.2f}x "
          f"{o['gflops']:16.1f} {100 * o['mfu']:5.1f}% {o['peak_rss_mib']:6.0f}MiB {o['theory_mib']:5.0f}MiB")
PY
