#!/usr/bin/env bash
# System packages Vessel's build, demo and tests need on a fresh Debian 12 machine.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "run as root (containers need root): sudo $0" >&2
  exit 1
fi
packages=(
  build-essential pkg-config libseccomp-dev   # build: libseccomp for seccomp filters
  busybox-static                              # the rootfs of test and demo containers
  iproute2 procps util-linux bsdutils         # ip netns, ps, unshare, script (pty)
  runc crun                                   # peers: parity tests and benchmarks
  podman docker.io containerd docker-compose  # drop-in tests; docker CLI and compose against the daemon
  python3                                     # benchmark driver
  docker-registry skopeo curl                 # registry peers: pull/push interop tests
  apache2-utils openssl                       # htpasswd (bcrypt) and TLS certificates for registry tests
  nftables iptables                           # firewall backends for NAT and published ports
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
