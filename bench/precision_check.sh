#!/usr/bin/env bash
# bf16 against fp32 on a real pretraining: the "tiny" preset (GPT-2, V from the data's tokenizer,
# T128 L4 H4 C128, B16), the same seed and data, STEPS optimizer steps each; prints the final
# validation loss and throughput of both and the relative difference (issue 15's proof: within 1%).
# Usage: bench/precision_check.sh BUILD_DIR DATA_DIR [STEPS=1000] [THREADS=0]
#   DATA_DIR: a prepared data directory (lmforge prepare; the demo writes RUN/data/general).
# On a CPU without bf16 instructions bf16 is emulated (same numbers, fp32 speed): the loss
# comparison holds, the speed comparison is meaningless there.
set -euo pipefail
BUILD=${1:?usage: $0 BUILD_DIR DATA_DIR [STEPS] [THREADS]}
DATA=${2:?usage: $0 BUILD_DIR DATA_DIR [STEPS] [THREADS]}
STEPS=${3:-1000}
THREADS=${4:-0}
LMFORGE="$BUILD/lmforge"
OUT=$(mktemp -d /tmp/lmforge-precision-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
declare -A LOSS TPS
for p in fp32 bf16; do
  "$LMFORGE" pretrain --data "$DATA" --output "$OUT/$p" --preset tiny --seq-len 128 --batch-size 16 \
    --max-steps "$STEPS" --eval-every 0 --eval-tokens 65536 --save-every 0 --seed 1337 \
    --threads "$THREADS" --precision "$p" > "$OUT/$p.log" 2>&1 || { cat "$OUT/$p.log"; exit 1; }
  grep -m1 "^pretrain: cpu:" "$OUT/$p.log" || true
  LOSS[$p]=$(python3 -c "import json;print(json.load(open('$OUT/$p/summary.json'))['val_loss'])")
  TPS[$p]=$(python3 -c "
import json
rows=[json.loads(l) for l in open('$OUT/$p/metrics.jsonl')]
tail=rows[len(rows)//2:]
print(sum(r['tokens_per_s'] for r in tail)/len(tail))")
done
python3 - "${LOSS[fp32]}" "${LOSS[bf16]}" "${TPS[fp32]}" "${TPS[bf16]}" "$STEPS" <<'PY'
import sys
lf, lb, tf, tb, steps = map(float, sys.argv[1:])
print(f"tiny, {int(steps)} steps: final val loss fp32 {lf:.4f}, bf16 {lb:.4f} "
      f"({100*(lb-lf)/lf:+.2f}%; target within 1%)")
print(f"throughput (mean of the second half): fp32 {tf:,.0f} tok/s, bf16 {tb:,.0f} tok/s "
      f"(bf16/fp32 {tb/tf:.2f}x)")
sys.exit(0 if abs(lb-lf)/lf <= 0.01 else 1)
PY
