#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root): installs what is missing,
# builds, runs unit, integration and end-to-end tests against real containerd and runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
npm ci --no-audit --no-fund
npm run build
# E2E_LONG=1 adds the long end-to-end tests (crun, runsc, 64 MiB outputs) that `npm test` skips.
E2E_LONG=1 npm test
