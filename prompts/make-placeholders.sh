#!/usr/bin/env bash
# Synthetic placeholder prompts from texts.tsv (espeak-ng + sox, 8 kHz mono 16-bit wav).
# The business replaces them with real recordings: hotline prompts import FILE --name N --lang L
# choose-language is both languages in one file: en/ holds it, ar/ links to it.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
speak() {  # language text out.wav
  espeak-ng -v "$1" -s 250 -w "$tmp/raw.wav" -- "$2"
  sox "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$3" \
    silence 1 0.02 0.5% -1 0.12 0.5%
}
while IFS=$'\t' read -r lang name text; do
  [[ -z "$lang" || "$lang" == \#* ]] && continue
  mkdir -p "$lang"
  if [[ "$name" == choose-language ]]; then
    speak "$lang" "$text" "$tmp/choose-$lang.wav"
  else
    speak "$lang" "$text" "$lang/$name.wav"
  fi
done < texts.tsv
sox "$tmp/choose-en.wav" "$tmp/choose-ar.wav" en/choose-language.wav
ln -sfn ../en/choose-language.wav ar/choose-language.wav
