#!/usr/bin/env bash
# Runs one real container through containerd with containerd-shim-ts-v2, from a fresh Debian 12
# machine as root: installs what is missing, builds, starts a private containerd in a temp dir
# (its own root, state and socket; the host's containerd, if any, is not touched), imports a
# busybox image built locally (no registry, no network), runs
#   ctr run --rm --runtime io.containerd.ts.v2 … echo hello from containerd-shim-ts
# shows its output and removes everything again, also when interrupted.
# Usage: bash scripts/demo.sh [--reference] [--oci runc|crun|runsc] [command …]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "demo: run as root (containerd needs it)" >&2; exit 1; fi
bash scripts/setup-host.sh
command -v node >/dev/null || { echo "demo: node (>= 20) is required" >&2; exit 1; }
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then npm ci --no-audit --no-fund --prefer-offline; fi
npm run build
# The node entry owns the containerd it starts and cleans up on exit and on signals; the trap only
# reports, so a failure anywhere above or below says where it stopped.
trap 'rc=$?; [ $rc -eq 0 ] || echo "demo: failed (exit $rc)" >&2' EXIT
node dist/test/e2e/harness/demo.js "$@"
