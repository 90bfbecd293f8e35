#!/usr/bin/env bash
# Builds one libFuzzer target (tests/fuzz/<name>_fuzz.cpp + the parser sources) with Debian's clang
# (-fsanitize=fuzzer,address,undefined), replays the saved regression inputs, then fuzzes for a
# bounded time from the checked-in seeds. A crash fails the test and leaves the input under
# WORK/artifacts-<name>/: copy it into tests/fuzz/regressions/<name>/ once the parser is fixed.
# Missing clang or libFuzzer fails the test; it never passes without fuzzing.
# Usage: run_fuzz.sh NAME SOURCE_DIR WORK_DIR SECONDS
#   NAME: gguf | safetensors | jinja (chat templates) | model_files (config.json, tokenizer.json)
set -euo pipefail
name="$1"
src="$2"
work="$3"
secs="${4:-20}"
cxx=""
for c in clang++ clang++-14 clang++-15 clang++-16; do
  if command -v "$c" >/dev/null; then cxx="$c"; break; fi
done
[ -n "$cxx" ] || { echo "FAIL: clang++ is not installed (apt-get install clang)" >&2; exit 1; }
mkdir -p "$work"
bin="$work/${name}_fuzz"
core=("$src/src/core/error.cpp" "$src/src/core/tensor.cpp" "$src/src/core/file_util.cpp"
      "$src/src/core/mapped_file.cpp")
seeds=("$src/tests/fuzz/seeds/$name")
libs=()
case "$name" in
  gguf|safetensors)
    sources=("$src/src/io/gguf.cpp" "$src/src/io/gguf_write.cpp" "$src/src/io/safetensors.cpp") ;;
  jinja)  # the chat templates of the template tests are the seeds
    sources=("$src"/src/jinja/*.cpp)
    seeds=("$src/tests/jinja/fixtures/chat_templates/templates") ;;
  model_files)
    sources=("$src/src/model/config.cpp" "$src"/src/model/arch/*.cpp "$src/src/data/tokenizer.cpp"
             "$src/src/data/tokenizer_io.cpp" "$src/src/data/bpe.cpp" "$src/src/data/byte_level.cpp"
             "$src/src/data/pretokenize.cpp")
    libs=(-lpcre2-8) ;;
  *) echo "FAIL: unknown fuzz target '$name'" >&2; exit 1 ;;
esac
sources=("$src/tests/fuzz/${name}_fuzz.cpp" "${sources[@]}" "${core[@]}")
stale=0
[ -x "$bin" ] || stale=1
if [ "$stale" = 0 ]; then
  for f in "${sources[@]}" "$src"/include/lmforge/*/*.h "$src"/src/*/*.h "$src"/src/*/*/*.h; do
    if [ "$f" -nt "$bin" ]; then stale=1; break; fi
  done
fi
if [ "$stale" = 1 ]; then
  echo "building $bin with $cxx" >&2
  "$cxx" -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -Wno-unknown-pragmas -I"$src/include" -I"$src/src" \
    "${sources[@]}" "${libs[@]}" -o "$bin.tmp"
  mv "$bin.tmp" "$bin"
fi
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
regress="$src/tests/fuzz/regressions/$name"
mapfile -t saved < <(find "$regress" -type f ! -name README 2>/dev/null | sort)
if [ "${#saved[@]}" -gt 0 ]; then
  echo "replaying ${#saved[@]} saved inputs from $regress" >&2
  "$bin" -runs=1 "${saved[@]}" >/dev/null 2>"$work/replay-$name.log" ||
    { cat "$work/replay-$name.log" >&2; echo "FAIL: a saved regression input crashes again" >&2; exit 1; }
fi
corpus="$work/corpus-$name"
artifacts="$work/artifacts-$name/"
mkdir -p "$corpus" "$artifacts"
if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -dict="$src/tests/fuzz/$name.dict" -artifact_prefix="$artifacts" -print_final_stats=1 \
    "$corpus" "${seeds[@]}" 2>"$work/fuzz-$name.log"; then
  tail -n 60 "$work/fuzz-$name.log" >&2
  echo "FAIL: the $name parser crashed; the input is in $artifacts (keep it in $regress)" >&2
  exit 1
fi
grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/fuzz-$name.log" >&2 || true
echo "ok: $name parser survived ${secs}s of fuzzing" >&2
