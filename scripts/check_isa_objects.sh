#!/usr/bin/env bash
# Fails when an object compiled for a higher ISA than the baseline (src/backend/cpu/*_avx512.cpp)
# defines a weak symbol (an inline function or template instance emitted out of line). The linker
# keeps one copy of each weak symbol for the whole program and may pick this object's, so baseline
# code would call AVX-512 instructions and die on an AVX2-only CPU. Such objects may only define
# strong symbols in their own ISA namespace (src/backend/cpu/isa_kernels.h) and local ones.
# usage: scripts/check_isa_objects.sh LIBRARY.a
set -euo pipefail
lib="${1:?usage: check_isa_objects.sh LIBRARY.a}"
members="$(ar t "$lib" | grep -E '_avx512[a-z0-9_]*\.cpp\.o$' || true)"
if [[ -z "$members" ]]; then
  echo "check_isa_objects: no *_avx512*.cpp.o member in $lib" >&2
  exit 1
fi
bad=0
for m in $members; do
  # nm -A: "LIB:MEMBER:ADDRESS TYPE NAME". Weak code: W w (and u, unique global). Weak data
  # (V v, e.g. DW.ref.__gxx_personality_v0) holds no instructions and is allowed.
  weak="$(nm -A --defined-only "$lib" 2>/dev/null | awk -F: -v m="$m" '$2 == m' |
          awk '$2 ~ /^[Wwu]$/ {print $3}' || true)"
  if [[ -n "$weak" ]]; then
    echo "check_isa_objects: $m defines weak symbols (callable from baseline code):" >&2
    c++filt <<<"$weak" | sed 's/^/  /' >&2
    bad=1
  else
    echo "ok: $m"
  fi
done
exit $bad
