#!/usr/bin/env bash
# The README's first command: installs what lmforge needs, builds it, and runs the main job.
# Until `lmforge demo` lands, the main job is: fetch a public-domain corpus from Debian packages,
# train a byte-level BPE tokenizer on it, tokenize it into shards, pretrain a small GPT-2 for a
# few minutes (printing samples as it learns), evaluate it on held-out text, show its next-word
# probabilities and let it write a continuation.
# Usage: scripts/quickstart.sh [OUT_DIR (default: ./out)] [STEPS (default: 1200, ~5 min on 2 quiet cores)]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-out}"
STEPS="${2:-1200}"
scripts/install-deps.sh
scripts/build.sh >/dev/null
LMF=build/lmforge
echo "== 1/6 fetching the corpus (King James Bible + fortunes, from Debian packages)"
scripts/fetch-corpus.sh "$OUT/corpus"
echo "== 2/6 training a tokenizer (byte-level BPE, 4096 tokens)"
[ -s "$OUT/tokenizer/tokenizer.json" ] || \
  $LMF tokenizer train --input "$OUT/corpus/general" --vocab-size 4096 --output "$OUT/tokenizer"
echo "== 3/6 tokenizing into shards with a held-out validation split"
[ -s "$OUT/data/manifest.json" ] || \
  $LMF prepare --tokenizer "$OUT/tokenizer" --input "$OUT/corpus/general" --output "$OUT/data" --val-fraction 0.01
echo "== 4/6 pretraining a small GPT-2 for $STEPS steps"
RESUME=""
[ -d "$OUT/run/checkpoints" ] && RESUME="--resume"
$LMF pretrain --data "$OUT/data" --output "$OUT/run" --preset tiny --seq-len 128 --batch-size 16 \
  --max-steps "$STEPS" --eval-every 200 --sample-every 200 --save-every 200 $RESUME
echo "== 5/6 evaluating on the held-out split"
$LMF eval --model "$OUT/run/final" --data "$OUT/data"
echo "== 6/6 what it learned: next-word probabilities, then a sampled continuation"
$LMF predict --model "$OUT/run/final" --prompt "And the LORD said unto" --top 8 2>/dev/null
$LMF generate --model "$OUT/run/final" --prompt "And the LORD said unto" --max-tokens 60 \
  --temperature 0.8 --top-p 0.95 --seed 1 2>/dev/null
echo
echo "done: model in $OUT/run/final, metrics in $OUT/run/metrics.jsonl"
