#!/usr/bin/env bash
# rbuild next to buildah and podman build (the same run, the same machine) on the benchmark
# fixtures of ../shared/bench: fixture a (2000 files copied, RUN steps) cold,
# no-change rebuild, one file's content changed, only mtimes changed; fixture
# b (four CPU-bound stages) cold. Stores on tmpfs, as the peer figures in
# ../shared/bench/README.md. Prints a Markdown table of medians and ratios.
# Usage (as root): bash scripts/bench-build.sh   (RUNS=5 for more runs)
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${BENCH_DIR:-../shared/bench}
runs=${RUNS:-3}
base=localhost:5000/busybox:latest
work=${BENCH_WORK:-/dev/shm/rdock-bench}
command -v buildah >/dev/null && command -v podman >/dev/null && command -v runc >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah podman runc >/dev/null
cargo build --release --locked -p rdock-cli >&2
rdock=$PWD/target/release/rdock
rm -rf "$work" && mkdir -p "$work"
export FX=$work/fx RDOCK_ROOT=$work/rdock-root
# This machine kind: crun refuses hybrid cgroups and the hard nofile limit is
# 20000, so buildah and podman need runc and lower default ulimits.
cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$work/containers.conf
bash "$bench/make-fixtures.sh" "$base" 2>/dev/null
# Base images: rdock imports Debian's busybox; buildah gets the bench's own.
bash scripts/make-busybox-rootfs.sh "$work/busybox.tar"
$rdock import "$work/busybox.tar" "$base" >/dev/null
bash "$bench/make-busybox-image.sh" -o "$work/bb-layout" -m manual -s "$base" >/dev/null 2>&1
bstore=(--root "$work/buildah-root" --runroot "$work/buildah-run" --storage-driver overlay)
skopeo copy -q "oci:$work/bb-layout:latest" "containers-storage:[overlay@$work/buildah-root+$work/buildah-run]$base"
pstore=(--root "$work/podman-root" --runroot "$work/podman-run" --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
skopeo copy -q "oci:$work/bb-layout:latest" "containers-storage:[overlay@$work/podman-root+$work/podman-run]$base"

ms() { # milliseconds of one successful run of "$@"
  local s e
  s=$(date +%s%N)
  "$@" >"$work/last.log" 2>&1 || { echo "bench: failed: $*" >&2; tail -5 "$work/last.log" >&2; exit 1; }
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rb() { $rdock build --progress=plain "$@"; }
bb() { buildah "${bstore[@]}" build --layers -q "$@"; }
pb() { podman "${pstore[@]}" build --layers -q "$@"; }

declare -A T
measure() { # name tool-fn args...
  local name=$1; shift
  local xs=()
  for _ in $(seq "$runs"); do xs+=("$(ms "$@")"); done
  T[$name]=$(printf '%s\n' "${xs[@]}" | median)
}
for tool in rb bb pb; do
  measure "$tool-a-cold" $tool --no-cache -t a "$FX/a"
  ms $tool -t a "$FX/a" >/dev/null
  measure "$tool-a-nochange" $tool -t a "$FX/a"
  xs=()
  for _ in $(seq "$runs"); do "$FX/touch-a.sh"; xs+=("$(ms $tool -t a "$FX/a")"); done
  T[$tool-a-onefile]=$(printf '%s\n' "${xs[@]}" | median)
  xs=()
  for _ in $(seq "$runs"); do find "$FX/a/src" -exec touch -h {} +; xs+=("$(ms $tool -t a "$FX/a")"); done
  T[$tool-a-mtime]=$(printf '%s\n' "${xs[@]}" | median)
  measure "$tool-b-cold" $tool --no-cache -t b "$FX/b"
done
echo "| work | rbuild ms | buildah ms | podman build ms | rbuild / buildah | rbuild / podman |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for w in a-cold a-nochange a-onefile a-mtime b-cold; do
  r=${T[rb-$w]} b=${T[bb-$w]} p=${T[pb-$w]}
  ratio() { awk -v r="$1" -v b="$2" 'BEGIN { printf "%.2f", r / (b ? b : 1) }'; }
  printf '| %s | %s | %s | %s | %s | %s |\n' "$w" "$r" "$b" "$p" "$(ratio "$r" "$b")" "$(ratio "$r" "$p")"
done
echo
echo "Median of $runs runs; stores on $(df --output=fstype "$work" | tail -1); $(nproc) CPUs; buildah $(buildah --version | awk '{print $3}'), podman $(podman --version | awk '{print $3}')."
# Fixture b's floor is its CPU time spread over every core: rbuild's own
# CPU (its RUN steps included) over nproc, next to the wall time it took.
echo
echo "| b cold, rbuild run | wall s | CPU s (user+sys) | floor s (CPU / $(nproc)) | wall / floor |"
echo "| --- | ---: | ---: | ---: | ---: |"
for i in $(seq "$runs"); do
  /usr/bin/time -f '%e %U %S' -o "$work/time" $rdock build -q --no-cache -t b "$FX/b" >/dev/null
  read -r wall user sys <"$work/time"
  awk -v i="$i" -v w="$wall" -v u="$user" -v s="$sys" -v n="$(nproc)" \
    'BEGIN { c = u + s; f = c / n; printf "| %d | %.2f | %.2f | %.2f | %.2f |\n", i, w, c, f, w / f }'
done
rm -rf "$work"
