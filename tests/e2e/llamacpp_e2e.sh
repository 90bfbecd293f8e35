#!/usr/bin/env bash
# End-to-end: real llama.cpp (node-llama-cpp@3.21.1's prebuilt CPU build) and @huggingface/gguf@0.4.6
# against lmforge's GGUF export. tests/infer/export_gguf_test writes a tiny GPT-2, a tiny Llama
# (grouped-query attention) and a tiny Qwen3 (q/k norms, llama.cpp's qwen3 arch) with our prompt ids and greedy continuations; tests/e2e/llamacpp/check.mjs
# requires the same ids and the same greedy tokens from llama.cpp. The npm packages are pinned by
# tests/e2e/llamacpp/package-lock.json and installed with --omit=optional (the linux-x64 binary is
# a direct dependency; NODE_LLAMA_CPP_SKIP_DOWNLOAD keeps its postinstall from building llama.cpp).
# Missing node/npm or a failed install fails the test: it never passes without checking.
# Usage: llamacpp_e2e.sh EXPORT_GGUF_TEST_BINARY CACHE_DIR
set -euo pipefail
case_bin="$1"
cache="$2"
src="$(cd "$(dirname "$0")/llamacpp" && pwd)"
command -v node >/dev/null || { echo "FAIL: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "FAIL: npm is not installed" >&2; exit 1; }
mkdir -p "$cache"
if ! cmp -s "$src/package-lock.json" "$cache/package-lock.json" || [ ! -d "$cache/node_modules/node-llama-cpp" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$cache/"
  (cd "$cache" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --omit=optional --no-audit --no-fund >&2)
fi
cp "$src/check.mjs" "$cache/"
work="$cache/cases"
rm -rf "$work"
mkdir -p "$work"
LMFORGE_LLAMACPP_CASES="$work" "$case_bin" --gtest_filter='ExportGguf.LlamaCppCases' >&2
exec node "$cache/check.mjs" "$work/cases.json"
