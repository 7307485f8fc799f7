#!/usr/bin/env bash
# rdock push and pull next to skopeo (and podman pull) in the same run,
# against Debian's docker-registry on loopback with storage on tmpfs.
# The image (~200 MB): busybox, one layer of 100 MB of random bytes, one
# layer of 25,000 small files (100 MB), built with rbuild (gzip layers).
#   push:                 rdock push; skopeo copy oci:LAYOUT docker://...
#   pull (blobs only):    rdock pull --no-unpack into a fresh store;
#                         skopeo copy docker://... oci:LAYOUT
#   pull (incl. unpack):  rdock pull into a fresh store (layers unpacked
#                         into snapshots); podman pull (vfs storage)
# Each push goes to a new repository of a new registry, so every blob is
# uploaded; which tool goes first alternates between runs. Prints Markdown
# tables of medians (RUNS=3 by default): wall times, and the CPU of the
# tool (/usr/bin/time) and of the registry process (/proc/PID/stat)
# during each run.
# Usage (as root): bash scripts/bench-registry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
work=${BENCH_WORK:-/dev/shm/rdock-bench-registry}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} cargo build --release -q -p rdock-cli >&2
rdock=${CARGO_TARGET_DIR:-$PWD/target}/release/rdock
rm -rf "$work" && mkdir -p "$work"
regpid=
cleanup() {
  local rc=$?
  if [ -n "$regpid" ]; then kill "$regpid" 2>/dev/null; wait "$regpid" 2>/dev/null || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_registry() { # a fresh, empty registry; sets $host
  if [ -n "$regpid" ]; then kill "$regpid" 2>/dev/null; wait "$regpid" 2>/dev/null || true; fi
  rm -rf "$work/registry" && mkdir -p "$work/registry"
  local port; port=$(free_port)
  cat >"$work/registry/config.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry/data}}
http: {addr: 127.0.0.1:$port}
EOF
  docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
  regpid=$!
  host=127.0.0.1:$port
  for _ in $(seq 50); do
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1])' "http://$host/v2/" 2>/dev/null && return
    sleep 0.1
  done
  echo "bench: registry did not start" >&2; exit 1
}

ms() { # milliseconds of one successful run of "$@"
  local s e
  s=$(date +%s%N)
  "$@" >"$work/last.log" 2>&1 || { echo "bench: failed: $*" >&2; tail -5 "$work/last.log" >&2; exit 1; }
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
# CPU time (ms) the registry process has used so far.
regcpu() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$regpid/stat"; }
# Like ms, also adding the registry's CPU (ms) during the run to $1-reg and
# the client's own CPU (user+sys of it and its children) to $1-cpu.
timed() {
  local key=$1; shift
  local r0 t; r0=$(regcpu)
  /usr/bin/time -f '%e %U %S' -o "$work/time.out" "$@" >"$work/last.log" 2>&1 ||
    { echo "bench: failed: $*" >&2; tail -5 "$work/last.log" >&2; exit 1; }
  t=$(tail -1 "$work/time.out")
  add "$key" "$(awk '{printf "%d", $1 * 1000}' <<<"$t")"
  add "$key-cpu" "$(awk '{printf "%d", ($2 + $3) * 1000}' <<<"$t")"
  add "$key-reg" "$(( $(regcpu) - r0 ))"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The image, built once into the source store.
export RDOCK_ROOT=$work/src
bash scripts/make-busybox-rootfs.sh "$work/busybox.tar"
$rdock import "$work/busybox.tar" busybox >/dev/null
mkdir -p "$work/ctx/small"
head -c 100000000 /dev/urandom >"$work/ctx/random.bin"
python3 - "$work/ctx/small" <<'PY'
import os, random, sys
rnd = random.Random(1)
for d in range(250):
    os.makedirs(f"{sys.argv[1]}/{d:03}", exist_ok=True)
    for f in range(100):
        with open(f"{sys.argv[1]}/{d:03}/{f:03}.txt", "wb") as out:
            out.write(rnd.randbytes(4000))
PY
printf 'FROM busybox\nCOPY random.bin /data/random.bin\nCOPY small /data/small\n' >"$work/ctx/Dockerfile"
$rdock build --progress=plain -t bench:1 "$work/ctx" >/dev/null 2>&1
size=$($rdock images | awk '$1=="bench" {print $NF}')
$rdock save -o "$work/bench.tar" bench:1
mkdir -p "$work/layout" && tar -xf "$work/bench.tar" -C "$work/layout"
ref=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])' "$work/layout/index.json")

declare -A T
add() { T[$1]="${T[$1]:-} $2"; }
echo "bench: load average at the start: $(cut -d" " -f1-3 /proc/loadavg)" >&2
for i in $(seq "$runs"); do
  start_registry
  $rdock tag bench:1 "$host/rdock/bench:1"
  # Alternate which tool goes first, so neither always meets a fresh registry.
  if (( i % 2 )); then
    timed rdock-push $rdock push "$host/rdock/bench:1"
    timed skopeo-push skopeo copy -q --dest-tls-verify=false --preserve-digests \
      "oci:$work/layout:$ref" "docker://$host/skopeo/bench:1"
  else
    timed skopeo-push skopeo copy -q --dest-tls-verify=false --preserve-digests \
      "oci:$work/layout:$ref" "docker://$host/skopeo/bench:1"
    timed rdock-push $rdock push "$host/rdock/bench:1"
  fi
  $rdock rmi "$host/rdock/bench:1" >/dev/null
  rm -rf "$work/dst" "$work/pulled-layout" "$work/podman"
  if (( i % 2 )); then
    timed rdock-pull-blobs $rdock --root "$work/dst" pull --no-unpack "$host/rdock/bench:1"
    timed skopeo-pull skopeo copy -q --src-tls-verify=false --preserve-digests \
      "docker://$host/rdock/bench:1" "oci:$work/pulled-layout:1"
  else
    timed skopeo-pull skopeo copy -q --src-tls-verify=false --preserve-digests \
      "docker://$host/rdock/bench:1" "oci:$work/pulled-layout:1"
    timed rdock-pull-blobs $rdock --root "$work/dst" pull --no-unpack "$host/rdock/bench:1"
  fi
  rm -rf "$work/dst"
  timed rdock-pull $rdock --root "$work/dst" pull "$host/rdock/bench:1"
  if command -v podman >/dev/null; then
    add podman-pull "$(ms podman --root "$work/podman/root" --runroot "$work/podman/run" \
      --storage-driver vfs pull -q --tls-verify=false "$host/rdock/bench:1")"
  fi
done
med() { printf '%s\n' ${T[$1]} | median; }
secs() { awk -v m="$1" 'BEGIN {printf "%.2f", m / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", b / a}'; }
echo "Image: $size (compressed layers), medians of $runs runs, registry storage on tmpfs."
echo
echo "| operation | rdock | peer | peer time | rdock speed-up |"
echo "| --- | --- | --- | --- | --- |"
echo "| push | $(secs "$(med rdock-push)") s | skopeo copy oci: to docker:// | $(secs "$(med skopeo-push)") s | $(ratio "$(med rdock-push)" "$(med skopeo-push)") |"
echo "| pull (store blobs only) | $(secs "$(med rdock-pull-blobs)") s | skopeo copy docker:// to oci: | $(secs "$(med skopeo-pull)") s | $(ratio "$(med rdock-pull-blobs)" "$(med skopeo-pull)") |"
echo "| pull incl. unpack | $(secs "$(med rdock-pull)") s | skopeo copy docker:// to oci: (no unpack) | $(secs "$(med skopeo-pull)") s | $(ratio "$(med rdock-pull)" "$(med skopeo-pull)") |"
if [ -n "${T[podman-pull]:-}" ]; then
  echo "| pull incl. unpack | $(secs "$(med rdock-pull)") s | podman pull (vfs) | $(secs "$(med podman-pull)") s | $(ratio "$(med rdock-pull)" "$(med podman-pull)") |"
fi
echo
echo "CPU seconds (medians): the tool's own (user+sys, with children) and the registry's during the run."
echo
echo "| run | wall | tool CPU | registry CPU |"
echo "| --- | --- | --- | --- |"
for k in rdock-push skopeo-push rdock-pull-blobs skopeo-pull rdock-pull; do
  echo "| $k | $(secs "$(med "$k")") s | $(secs "$(med "$k-cpu")") s | $(secs "$(med "$k-reg")") s |"
done
echo
echo "All wall times (ms): $(for k in rdock-push skopeo-push rdock-pull-blobs skopeo-pull; do printf '%s:%s; ' "$k" "$(echo ${T[$k]} | tr ' ' ,)"; done)"
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
