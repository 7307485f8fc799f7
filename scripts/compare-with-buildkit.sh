#!/usr/bin/env bash
# Builds every fixtures/build case with BuildKit (Debian's docker.io, started
# by ../shared/bench/start-dockerd.sh) and with rbuild, on the same busybox
# base, and compares the resulting file trees and configs (times and history
# left out) with ../shared/bench/image-tree.py. A developer tool, not a test:
# the project's tests never need a Docker daemon. Usage (as root):
#   bash ../shared/bench/start-dockerd.sh && bash scripts/compare-with-buildkit.sh [CASE...]
# CASES_DIR=DIR takes the cases from DIR/<case>/context (and case.json)
# instead of fixtures/build.
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${BENCH_DIR:-../shared/bench}
docker=/usr/bin/docker
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# RDOCK=path takes that binary instead of building one.
rdock=${RDOCK:-}
if [ -z "$rdock" ]; then
  cargo build --release --locked -p rdock-cli >&2
  rdock=$PWD/target/release/rdock
fi
export RDOCK_ROOT=$work/root
bash scripts/make-busybox-rootfs.sh "$work/busybox.tar"
$docker import - busybox:latest <"$work/busybox.tar" >/dev/null
$rdock import "$work/busybox.tar" busybox >/dev/null
$docker save busybox:latest -o "$work/base-docker.tar"
$rdock save -o "$work/base-rdock.tar" busybox
cases=("$@")
cases_dir=${CASES_DIR:-fixtures/build}
[ ${#cases[@]} -gt 0 ] || mapfile -t cases < <(ls "$cases_dir")
status=0
for c in "${cases[@]}"; do
  dir=$cases_dir/$c
  args=()
  [ -f "$dir/case.json" ] && mapfile -t args < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1])).get("args", [])), end="")' "$dir/case.json")
  if ! DOCKER_BUILDKIT=1 $docker build -q "${args[@]}" -t "xc-$c" "$dir/context" >/dev/null 2>"$work/d.err"; then
    echo "$c: BuildKit failed: $(grep -v '^#' "$work/d.err" | tail -1)"
    $rdock build "${args[@]}" -t "xc-$c" "$dir/context" >/dev/null 2>&1 && { echo "$c: but rbuild succeeded"; status=1; }
    continue
  fi
  if ! $rdock build "${args[@]}" -t "xc-$c" "$dir/context" >/dev/null 2>"$work/r.err"; then
    echo "$c: rbuild failed where BuildKit succeeded: $(tail -1 "$work/r.err")"; status=1; continue
  fi
  $docker save "xc-$c" -o "$work/d.tar"
  $rdock save -o "$work/r.tar" "xc-$c"
  python3 "$bench/image-tree.py" "$work/d.tar" --base "$work/base-docker.tar" >"$work/d.json"
  python3 "$bench/image-tree.py" "$work/r.tar" --base "$work/base-rdock.tar" >"$work/r.json"
  if python3 - "$work/d.json" "$work/r.json" <<'PY'
import json, sys
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k.lower() not in ("created", "history")}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY
  then echo "$c: same as BuildKit"; else echo "$c: DIFFERS"; diff <(python3 -m json.tool "$work/d.json") <(python3 -m json.tool "$work/r.json") | head -40 || true; status=1; fi
done
exit $status
