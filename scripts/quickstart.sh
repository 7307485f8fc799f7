#!/usr/bin/env bash
# Sets up, builds rdock, and runs the main job on an example: today that is
# parsing and checking a Dockerfile (building and running images come next).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
cargo build --release --locked -p rdock-cli
ln -sf rdock target/release/rbuild
ln -sf rdock target/release/rrun
echo "== rdock debug parse fixtures/examples/hello/Dockerfile"
target/release/rdock debug parse fixtures/examples/hello/Dockerfile
echo "== rbuild --check fixtures/examples/hello"
target/release/rbuild --check fixtures/examples/hello
