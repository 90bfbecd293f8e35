#!/usr/bin/env bash
# Fetches freely licensed English text from Debian packages (without installing them system-wide)
# and writes clean plain-text corpora, documents separated by blank lines:
#   OUT/general/bible-kjv.txt   King James Bible, one document per chapter (public domain)
#   OUT/general/fortunes.txt    the `fortunes` quotations, one document each (BSD; Debian
#                               redistributes them), without the ASCII-art categories
# Usage: scripts/fetch-corpus.sh OUT_DIR     (idempotent: skips what is already there)
set -euo pipefail
OUT="${1:?usage: fetch-corpus.sh OUT_DIR}"
mkdir -p "$OUT/general" "$OUT/.debs"
OUT="$(cd "$OUT" && pwd)"
cd "$OUT/.debs"
need() { [ -s "$OUT/general/$1" ] && return 1 || return 0; }
if need bible-kjv.txt || need fortunes.txt; then
  for p in bible-kjv-text bible-kjv fortunes; do
    ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p" >/dev/null 2>&1 \
      || { echo "error: cannot download Debian package $p (hint: run apt-get update, check the network)" >&2; exit 1; }
  done
  for f in *.deb; do dpkg-deb -x "$f" x; done
fi
if need bible-kjv.txt; then
  # The package's own decoder prints "Book N" headings and numbered verses; one chapter per document.
  x/usr/bin/bible -p x/usr/lib -l100000 'Gen1:1-Rev22:21' \
    | awk 'BEGIN{doc=""} /^[1-3]? ?[A-Z][a-z]+( [A-Za-z]+)* [0-9]+$/ {if(doc!="") print doc "\n"; doc=""; next}
           /^ *[0-9]+ / {sub(/^ *[0-9]+ /,""); doc = (doc=="" ? $0 : doc " " $0); next}
           END{if(doc!="") print doc}' > "$OUT/general/bible-kjv.txt.tmp"
  mv "$OUT/general/bible-kjv.txt.tmp" "$OUT/general/bible-kjv.txt"
fi
if need fortunes.txt; then
  : > "$OUT/general/fortunes.txt.tmp"
  for f in x/usr/share/games/fortunes/*.u8; do
    case "$(basename "$f" .u8)" in art|ascii-art) continue;; esac
    # '%' lines separate items; inner blank lines are dropped so one item stays one document.
    awk 'BEGIN{item=""} /^%$/ {if(item!="") print item "\n"; item=""; next}
         /^[[:space:]]*$/ {next} {sub(/\r$/,""); item = (item=="" ? $0 : item "\n" $0)}
         END{if(item!="") print item "\n"}' "$f" >> "$OUT/general/fortunes.txt.tmp"
  done
  mv "$OUT/general/fortunes.txt.tmp" "$OUT/general/fortunes.txt"
fi
wc -c "$OUT"/general/*.txt | sed 's/^/  /'
