#!/usr/bin/env bash
# The project's test command (CI runs exactly this): formatting, lints, the
# conformance comparison with the official parser's data, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --release --locked -p rdock-cli
python3 fixtures/conformance/tools/compare-parse.py --quiet \
  --cmd 'target/release/rdock debug parse --json {}' fixtures/conformance
cargo test --workspace --locked
