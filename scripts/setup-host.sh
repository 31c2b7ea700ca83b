#!/usr/bin/env bash
# Installs the Debian packages the shim and its tests use, when any is missing.
set -euo pipefail
packages=(containerd runc crun runsc criu busybox-static util-linux golang-go
  golang-github-containerd-containerd-dev golang-github-containerd-ttrpc-dev
  golang-github-containerd-go-runc-dev golang-github-containerd-cgroups-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup-host: need root to install: ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
