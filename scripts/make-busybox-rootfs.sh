#!/usr/bin/env bash
# Writes a tiny root filesystem tar from Debian's busybox-static, for
# `rdock import ROOTFS.tar busybox:latest` in tests and examples.
#
#   bash scripts/make-busybox-rootfs.sh OUT.tar
#
# Contents: /bin/busybox (static), one symlink to it per applet (from
# `busybox --list-full`), /etc/passwd, /etc/group, empty /root (0700),
# /tmp (1777), /dev, /proc, /sys, /home, /var. Deterministic: the same
# busybox binary gives the same tar byte for byte (sorted names, mtime 0,
# owner 0:0, GNU format). BUSYBOX=path overrides the binary (it must be
# statically linked). Needs: busybox-static (installed with apt-get when
# missing and running as root), GNU tar.
set -euo pipefail
out=${1:?usage: make-busybox-rootfs.sh OUT.tar}
bb=${BUSYBOX:-/bin/busybox}
if [ -z "${BUSYBOX:-}" ] && [ ! -x "$bb" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "make-busybox-rootfs: apt-get install busybox-static" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq busybox-static >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq busybox-static >/dev/null; }
fi
if [ ! -x "$bb" ]; then
  echo "make-busybox-rootfs: $bb not found: apt-get install busybox-static" >&2
  exit 1
fi
if ! "$bb" --list-full >/dev/null 2>&1; then
  echo "make-busybox-rootfs: $bb does not run as busybox" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
umask 022
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,home,var,root,tmp}
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"
install -m 0755 "$bb" "$root/bin/busybox"
"$bb" --list-full | LC_ALL=C sort | while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$root/$(dirname "$applet")"
  ln -sfn /bin/busybox "$root/$applet"
done
printf '%s\n' \
  'root:x:0:0:root:/root:/bin/sh' \
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
chmod 0644 "$root/etc/passwd" "$root/etc/group"

(cd "$root" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort) >"$work/list"
tar --format=gnu --numeric-owner --owner=0 --group=0 --mtime=@0 \
  --no-recursion -C "$root" -cf "$out.partial" -T "$work/list"
mv "$out.partial" "$out"
