#!/usr/bin/env bash
# The README's first command: installs what lmforge needs, builds it, fetches freely licensed text
# from Debian packages, and runs `lmforge demo`: the whole journey (tokenizer, pretraining,
# continued pretraining, task fine-tuning, instruction tuning, reward model, DPO, PPO) with probes
# after every stage and a report card (OUT/demo/report.html). Interrupted? Run it again: finished
# stages are skipped and the running one resumes from its last checkpoint.
# Usage: scripts/quickstart.sh [OUT_DIR (default: ./out)] [MINUTES (default: 20, on 2 cores)]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-out}"
MINUTES="${2:-20}"
scripts/install-deps.sh
scripts/build.sh >/dev/null
echo "== fetching the corpora (Bible, fortunes, Jargon File, FOLDOC, FreeDict, WordNet: Debian packages)"
scripts/fetch-corpus.sh "$OUT/corpus"
echo "== lmforge demo (about $MINUTES minutes)"
build/lmforge demo --corpus "$OUT/corpus" --output "$OUT/demo" --minutes "$MINUTES"
echo
echo "done: the report card is $OUT/demo/report.html (and report.md); each stage's model is in"
echo "$OUT/demo/<stage>/final. Talk to the last one: build/lmforge chat --model $OUT/demo/ppo/final"
