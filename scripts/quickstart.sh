#!/usr/bin/env bash
# Sets up and builds rdock, then runs the main job on the example in
# fixtures/examples/hello: check the Dockerfile, build it into an OCI image on
# a busybox base made from Debian's busybox-static, show the image and run it
# with rrun (none and bridge networking). Needs root (namespaces, cgroups).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
cargo build --release --locked -p rdock-cli
ln -sf rdock target/release/rbuild
ln -sf rdock target/release/rrun
export RDOCK_ROOT="$PWD/target/quickstart-root"
rdock=target/release/rdock
echo "== rbuild --check fixtures/examples/hello"
target/release/rbuild --check fixtures/examples/hello
echo "== base image: busybox from Debian's busybox-static"
bash scripts/make-busybox-rootfs.sh target/busybox-rootfs.tar
$rdock import target/busybox-rootfs.tar busybox
echo "== rbuild -t hello fixtures/examples/hello"
target/release/rbuild -t hello fixtures/examples/hello
$rdock images
$rdock inspect hello
echo "== rrun --rm hello"
target/release/rrun --rm hello
echo "== rrun --rm --network none hello sh -c 'hostname; ip addr; cat \$GREETING_FILE'"
target/release/rrun --rm --network none --hostname demo hello sh -c 'hostname; ip -o addr | cut -d" " -f2 | sort -u; cat $GREETING_FILE'
