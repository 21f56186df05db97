#!/usr/bin/env bash
# Downloads the `lint` real-code corpus (third-party files, not committed) at the commits
# crates/losskit-cli/tests/lint_corpus/labels.txt (tuning set) and heldout*.txt (held-out
# sets) list, each behind the 3-line header the labels' line numbers count. Needs
# network access to GitHub.
#   bash tools/lint-corpus.sh [OUT_DIR]   (default: crates/losskit-cli/tests/lint_corpus/files)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=crates/losskit-cli/tests/lint_corpus
out=${1:-$dir/files}
mkdir -p "$out"
for labels in "$dir"/labels.txt "$dir"/heldout*.txt; do
  grep -v '^#' "$labels" | while read -r name repo commit path licence _; do
    [ -n "$name" ] || continue
    if [ "$repo" = search-index ]; then
      # heldout4.txt: files from the development environment's public-code search index,
      # which names no repository; read them there by id (`read_file id=$commit`), put the
      # same 3-line header on top, and save them as $out/$name.
      [ -f "$out/$name" ] || echo "not downloadable: $name (search index file id $commit)" >&2
      continue
    fi
    case $name in *.rs) c='//' ;; *) c='#' ;; esac
    # A space in a path is written %20 in the labels, as the URL wants it.
    body=$(curl -fsSL "https://raw.githubusercontent.com/$repo/$commit/$path")
    lines=$(printf '%s\n' "$body" | wc -l)
    {
      echo "$c losskit lint corpus file $name (real code, labelled by hand in ../$(basename "$labels"))"
      echo "$c source: https://github.com/$repo $path @ $commit"
      echo "$c licence: $licence; whole file ($lines lines), unchanged below this header"
      printf '%s\n' "$body"
    } > "$out/$name"
  done
done
echo "corpus written to $out"
