#!/usr/bin/env bash
# Trains the same GPT-2-style model in lmforge (bench/train_bench.cpp) and in PyTorch
# (bench/train_bench.py, nanoGPT-style, Debian's torch, 2 threads) for the "tiny" and "small"
# configs, alternating the programs on the same machine, and prints tokens/s of four runs:
# lmforge fp32, lmforge bf16 (--precision bf16), PyTorch fp32, PyTorch bf16 (torch.autocast), with
# the ratios the speed targets use: lmforge against PyTorch fp32 and against PyTorch bf16.
# The bf16 runs need bf16 instructions (AVX512_BF16 or AMX-BF16); where lmforge or PyTorch lacks
# them (or PyTorch's oneDNN refuses the CPU) that run is skipped with the reason printed, so the
# script runs as it is on AVX2-only, AVX-512 and AMX machines.
# Best of REPEAT runs of each, so that a burst of load from other processes on a shared machine
# hits no side alone. Each side runs at its best: every run is tried under both OpenMP wait
# policies (OMP_WAIT_POLICY=passive, and a short spin GOMP_SPINCOUNT=3000: the two that lmforge's
# CLI chooses between, src/cli/main.cpp) and the better counts; OPENBLAS_CORETYPE is unset for
# PyTorch alone; lmforge runs with the environment as it is otherwise.
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
py=/usr/bin/python3
if [[ ! -x "$bin" ]]; then
  echo "run_train_bench: $bin not found; build it first: ninja -C $build train_bench" >&2
  exit 2
fi
flags="$(grep -o -w -E 'avx2|avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, flags: ${flags:-none};" \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Which bf16 runs are fair references here (each program's own test; the reason either way).
ours_bf16=0
if ours_msg="$("$bin" --check-bf16 2>&1)"; then ours_bf16=1; fi
echo "$ours_msg$([[ $ours_bf16 == 1 ]] || echo ': lmforge bf16 run skipped')"
theirs_bf16=0
if theirs_msg="$("$py" "$here/train_bench.py" --check-bf16 2>&1)"; then theirs_bf16=1; fi
echo "$theirs_msg$([[ $theirs_bf16 == 1 ]] || echo ': PyTorch bf16 autocast run skipped')"
results=()
policies=("OMP_WAIT_POLICY=passive" "GOMP_SPINCOUNT=3000")
for cfg in $configs; do
  for ((r = 1; r <= repeat; r++)); do
    for policy in "${policies[@]}"; do
      precisions=(fp32)
      [[ $ours_bf16 == 1 ]] && precisions+=(bf16)
      for prec in "${precisions[@]}"; do
        echo "== $cfg ($r/$repeat, $policy): lmforge $prec"
        out="$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$policy" "$bin" --config "$cfg" \
               --steps "$steps" --precision "$prec")"
        echo "$out"
        results+=("$(tail -n 1 <<<"$out")")
      done
      precisions=(fp32)
      [[ $theirs_bf16 == 1 ]] && precisions+=(bf16)
      for prec in "${precisions[@]}"; do
        echo "== $cfg ($r/$repeat, $policy): pytorch $prec (OPENBLAS_CORETYPE unset)"
        theirs="$(env -u OPENBLAS_CORETYPE -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$policy" \
                  "$py" "$here/train_bench.py" --config "$cfg" --steps "$steps" --threads 2 \
                  --precision "$prec" | tail -n 1)"
        echo "$theirs"
        results+=("$theirs")
      done
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" - "${results[@]}" <<'PY'
import json, sys
rows = [json.loads(a) for a in sys.argv[1:]]
best = {}
for r in rows:
    k = (r["config"], r["impl"], r.get("precision", "fp32"))
    if k not in best or r["tokens_per_s"] > best[k]["tokens_per_s"]:
        best[k] = r

def vs(ours, ref):
    return f"{ours['tokens_per_s'] / ref['tokens_per_s']:5.2f}x ({ref['tokens_per_s']:8.1f})" if ref else f"{'n/a':>16}"

print("best tokens/s per run; ratios are lmforge over PyTorch (PyTorch's tokens/s in brackets);")
print("MFU is against the machine's arithmetic peak for lmforge's precision (backend/peak.h)")
print(f"{'config':7} {'lmforge':8} {'tok/s':>9} {'vs PyTorch fp32':>18} {'vs PyTorch bf16':>18} "
      f"{'GFLOP/s':>8} {'MFU':>6} {'peak':>22} {'peak RSS':>9} {'theory':>7}")
for cfg in dict.fromkeys(r["config"] for r in rows):
    pf, pb = best.get((cfg, "pytorch", "fp32")), best.get((cfg, "pytorch", "bf16"))
    for prec in ("fp32", "bf16"):
        o = best.get((cfg, "lmforge", prec))
        if not o:
            continue
        peak = f"{o['peak_gflops']:.0f} GFLOP/s {o['peak_kernel'].split()[0]}"
        print(f"{cfg:7} {prec:8} {o['tokens_per_s']:9.1f} {vs(o, pf):>18} {vs(o, pb):>18} "
              f"{o['gflops']:8.1f} {100 * o['mfu']:5.1f}% {peak:>22} {o['peak_rss_mib']:6.0f}MiB "
              f"{o['theory_mib']:4.0f}MiB")
    if pf and pb:
        print(f"{cfg:7} PyTorch bf16 autocast over PyTorch fp32: {pb['tokens_per_s'] / pf['tokens_per_s']:.2f}x")
PY
