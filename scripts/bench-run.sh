#!/usr/bin/env bash
# Container start benchmark: `rrun --rm IMAGE true` (with --network none and
# on the default bridge) next to `crun run` on an OCI bundle of the same
# busybox rootfs and `podman run --rm --network none`, timed with hyperfine
# in one run. Results: docs/benchmarks.md, "rrun: container start".
#
#   bash scripts/bench-run.sh [RUNS]        (as root; default 30 runs each)
#
# RDOCK=path picks the binary (default: target/release/rdock, built if
# missing). Stores live on tmpfs (/dev/shm), as the peers' figures do.
# crun refuses hybrid cgroups, so it runs inside `unshare -m` with
# /sys/fs/cgroup/unified unmounted (see /work/shared/bench/README.md);
# podman uses runc with the ulimits this machine allows, from a temporary
# containers.conf. Needs: hyperfine crun podman (apt-get install).
set -euo pipefail
runs=${1:-30}
here=$(cd "$(dirname "$0")/.." && pwd)
rdock=${RDOCK:-$here/target/release/rdock}
if [ ! -x "$rdock" ]; then
  (cd "$here" && cargo build --release -p rdock-cli)
fi
for tool in hyperfine crun podman; do
  command -v "$tool" >/dev/null || { echo "bench-run: $tool missing (apt-get install $tool)" >&2; exit 1; }
done

work=$(mktemp -d /dev/shm/rdock-bench-run.XXXXXX)
cleanup() {
  podman --root "$work/podman" --runroot "$work/podman-run" rmi -af >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# One rootfs for everyone.
bash "$here/scripts/make-busybox-rootfs.sh" "$work/busybox.tar"
root=$work/rdock
"$rdock" --root "$root" import "$work/busybox.tar" busybox >/dev/null
"$rdock" --root "$root" run --rm --network none busybox true

# crun: an OCI bundle of the same rootfs running `true` with its own
# namespaces (pid, mount, ipc, uts, network), as rrun --network none.
bundle=$work/bundle
mkdir -p "$bundle/rootfs"
tar -xf "$work/busybox.tar" -C "$bundle/rootfs"
(cd "$bundle" && crun spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["args"] = ["true"]
spec["process"]["terminal"] = False
spec["root"]["readonly"] = False
json.dump(spec, open(path, "w"), indent=1)
PY

# podman with runc and this machine's ulimits, in its own storage.
conf=$work/containers.conf
printf '[engine]\nruntime = "runc"\n[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' >"$conf"
export CONTAINERS_CONF=$conf
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay)
"${podman[@]}" import "$work/busybox.tar" localhost/bench-busybox >/dev/null
"${podman[@]}" run --rm --network none localhost/bench-busybox true

echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg) =="
echo "== rrun and podman (${runs} runs each) =="
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/peers.json" \
  -n "rrun --network none" "$rdock --root $root run --rm --network none busybox true" \
  -n "rrun (bridge)" "$rdock --root $root run --rm busybox true" \
  -n "podman run --network none" "${podman[*]} run --rm --network none localhost/bench-busybox true"

echo "== crun (inside unshare -m, cgroup2 unmounted) =="
unshare -m bash -c "
  umount /sys/fs/cgroup/unified 2>/dev/null || true
  hyperfine -N --warmup 3 --runs $runs --export-json $work/crun.json \
    -n 'crun run' 'crun run --bundle $bundle rdock-bench-crun' \
    -n 'rrun --network none (cgroup2 unmounted, as crun)' \
    '$rdock --root $root run --rm --network none busybox true'
"

echo "== medians (ms) =="
python3 - "$work/peers.json" "$work/crun.json" <<'PY'
import json, statistics, sys
print(f"{'command':50} {'median':>8} {'min':>8} {'mean':>8}")
for path in sys.argv[1:]:
    for r in json.load(open(path))["results"]:
        t = [x * 1000 for x in r["times"]]
        print(f"{r['command']:50} {statistics.median(t):8.1f} {min(t):8.1f} {statistics.mean(t):8.1f}")
PY
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg) =="
