#!/usr/bin/env bash
# Seeds corpus/parse with every conformance Dockerfile (named by content
# hash, so re-running adds nothing twice).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/parse
find ../fixtures/conformance -name Dockerfile -type f | while read -r f; do
  cp "$f" "corpus/parse/$(sha1sum "$f" | cut -c1-40)"
done
echo "corpus/parse: $(ls corpus/parse | wc -l) files"
