#!/usr/bin/env bash
# Fetches freely licensed English text from Debian packages (without installing them system-wide)
# and writes clean plain-text corpora, documents separated by blank lines:
#   OUT/general/bible-kjv.txt   King James Bible, one document per chapter (public domain)
#   OUT/general/fortunes.txt    the `fortunes` quotations, one document each (BSD; Debian
#                               redistributes them), without the ASCII-art categories
# and copies the raw dictionaries that `lmforge demo data --corpus OUT` turns into the demo's
# domain, task, instruction and ranking data (the C++ does the cleaning, not this script):
#   OUT/dict/jargon.{index,dict.dz}            The Jargon File 4.4.7 (public domain)
#   OUT/dict/foldoc.{index,dict.dz}            Free On-line Dictionary of Computing (GFDL-1.1+)
#   OUT/dict/freedict-eng-deu.{index,dict.dz}  FreeDict English-German (GPL-3+)
#   OUT/wordnet/data.{noun,verb,adj,adv}, index.{noun,verb,adj,adv}   WordNet 3.0 (WordNet license)
#   OUT/LICENSES.txt                           which license covers which file
# Usage: scripts/fetch-corpus.sh OUT_DIR     (idempotent: skips what is already there)
# Needs apt-get (Debian/Ubuntu package lists; run `apt-get update` once) and dpkg-deb.
set -euo pipefail
OUT="${1:?usage: fetch-corpus.sh OUT_DIR}"
mkdir -p "$OUT/general" "$OUT/dict" "$OUT/wordnet" "$OUT/.debs"
OUT="$(cd "$OUT" && pwd)"
cd "$OUT/.debs"
need() { [ -s "$OUT/$1" ] && return 1 || return 0; }
# fetch PKG...: downloads each package once and unpacks it into ./x.
fetch() {
  for p in "$@"; do
    if ! ls "${p}"_*.deb >/dev/null 2>&1; then
      apt-get download "$p" >/dev/null 2>&1 \
        || { echo "error: cannot download Debian package $p (hint: run apt-get update, check the network)" >&2; exit 1; }
    fi
    dpkg-deb -x "$(ls "${p}"_*.deb | head -1)" x
  done
}
if need general/bible-kjv.txt || need general/fortunes.txt; then
  fetch bible-kjv-text bible-kjv fortunes
fi
if need general/bible-kjv.txt; then
  # The package's own decoder prints "Book N" headings and numbered verses; one chapter per document.
  x/usr/bin/bible -p x/usr/lib -l100000 'Gen1:1-Rev22:21' \
    | awk 'BEGIN{doc=""} /^[1-3]? ?[A-Z][a-z]+( [A-Za-z]+)* [0-9]+$/ {if(doc!="") print doc "\n"; doc=""; next}
           /^ *[0-9]+ / {sub(/^ *[0-9]+ /,""); doc = (doc=="" ? $0 : doc " " $0); next}
           END{if(doc!="") print doc}' > "$OUT/general/bible-kjv.txt.tmp"
  mv "$OUT/general/bible-kjv.txt.tmp" "$OUT/general/bible-kjv.txt"
fi
if need general/fortunes.txt; then
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
# Dictionaries: dictd files are copied as they are (index + gzip'ed text); copy-then-rename keeps
# an interrupted fetch from leaving a truncated file under the final name.
for d in jargon:dict-jargon foldoc:dict-foldoc freedict-eng-deu:dict-freedict-eng-deu; do
  name="${d%%:*}" pkg="${d#*:}"
  if need "dict/$name.index" || need "dict/$name.dict.dz"; then
    fetch "$pkg"
    for ext in index dict.dz; do
      cp "x/usr/share/dictd/$name.$ext" "$OUT/dict/$name.$ext.tmp"
      mv "$OUT/dict/$name.$ext.tmp" "$OUT/dict/$name.$ext"
    done
  fi
done
if need wordnet/data.noun || need wordnet/index.verb; then
  fetch wordnet-base
  for f in data.noun data.verb data.adj data.adv index.noun index.verb index.adj index.adv; do
    cp "x/usr/share/wordnet/$f" "$OUT/wordnet/$f.tmp"
    mv "$OUT/wordnet/$f.tmp" "$OUT/wordnet/$f"
  done
fi
cat > "$OUT/LICENSES.txt" <<'LIC'
Sources of this corpus (all from Debian packages; see each package's copyright file):
  general/bible-kjv.txt   bible-kjv-text    King James Version, public domain
  general/fortunes.txt    fortunes          BSD program; quotations as redistributed by Debian
  dict/jargon.*           dict-jargon       The Jargon File 4.4.7, public domain
  dict/foldoc.*           dict-foldoc       FOLDOC, GNU Free Documentation License 1.1 or later
  dict/freedict-eng-deu.* dict-freedict-eng-deu  FreeDict English-German, GPL-3+
  wordnet/*               wordnet-base      WordNet 3.0 license (permissive, Princeton University)
Derived demo data keeps the license of its source; do not redistribute it as your own.
LIC
rm -rf x
wc -c "$OUT"/general/*.txt "$OUT"/dict/* "$OUT"/wordnet/* | sed 's/^/  /'
