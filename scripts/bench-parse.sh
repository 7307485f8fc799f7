#!/usr/bin/env bash
# Parser throughput, rdock-parser against BuildKit's Go parser, on the
# conformance Dockerfiles plus a generated corpus of realistic ones. Prints
# Markdown tables (see docs/benchmarks.md).
#
#   bash scripts/bench-parse.sh            # best of 10 runs
#   RUNS=30 bash scripts/bench-parse.sh
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-10}"
target="${CARGO_TARGET_DIR:-target}"
corpus="$target/bench-corpus"

# The Go parser, as a Python extension module.
if ! python3 -c 'import dockerfile' 2>/dev/null; then
  python3 -m pip install --quiet 'dockerfile==3.4.0'
fi

cargo build --quiet --release --locked -p rdock-parser --example parse_timing
python3 scripts/gen-bench-corpus.py "$corpus" >/dev/null
python3 scripts/bench-parse.py --runs "$runs" --corpus "$corpus" \
  --timer "$target/release/examples/parse_timing"
