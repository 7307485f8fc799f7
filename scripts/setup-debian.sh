#!/usr/bin/env bash
# Installs what building and testing rdock needs on Debian 12 (run as root,
# or with sudo available). Safe to run again.
set -euo pipefail
need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# Interop checks: skopeo reads the OCI layouts rdock writes.
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
# Test base images are made from the static busybox (one file, whole userland).
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
# Containers: NAT and port rules, network tools for tests, id maps for
# user namespaces, a static C compiler for probe programs in tests.
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v newuidmap >/dev/null 2>&1 || need+=(uidmap)
# Registries: the reference distribution registry, htpasswd and openssl for
# the auth set-ups of the tests.
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Interop checks: umoci unpacks our OCI output, podman (with runc) loads and
# runs our docker archives; git for ADD of git sources.
command -v umoci >/dev/null 2>&1 || need+=(umoci)
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v git >/dev/null 2>&1 || need+=(git)
# rrun's start benchmark (scripts/bench-run.sh): hyperfine, and crun as a peer.
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
command -v crun >/dev/null 2>&1 || need+=(crun)
# The registry benchmark (scripts/bench-registry.sh): each run's CPU.
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found: install Rust (rustup) first" >&2; exit 1; }
