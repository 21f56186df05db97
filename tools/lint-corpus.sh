#!/usr/bin/env bash
# Downloads the `lint` real-code corpus (third-party files, not committed) at the commits
# crates/losskit-cli/tests/lint_corpus/labels.txt lists, each behind the 3-line header the
# labels' line numbers count. Needs network access to GitHub.
#   bash tools/lint-corpus.sh [OUT_DIR]   (default: crates/losskit-cli/tests/lint_corpus/files)
set -euo pipefail
cd "$(dirname "$0")/.."
labels=crates/losskit-cli/tests/lint_corpus/labels.txt
out=${1:-crates/losskit-cli/tests/lint_corpus/files}
mkdir -p "$out"
grep -v '^#' "$labels" | while read -r name repo commit path licence _; do
  [ -n "$name" ] || continue
  case $name in *.rs) c='//' ;; *) c='#' ;; esac
  body=$(curl -fsSL "https://raw.githubusercontent.com/$repo/$commit/$path")
  lines=$(printf '%s\n' "$body" | wc -l)
  {
    echo "$c losskit lint corpus file $name (real code, labelled by hand in ../labels.txt)"
    echo "$c source: https://github.com/$repo $path @ $commit"
    echo "$c licence: $licence; whole file ($lines lines), unchanged below this header"
    printf '%s\n' "$body"
  } > "$out/$name"
done
echo "corpus written to $out"
