// What the host must have for the end-to-end suite, as skip reasons rather than failures.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { binDir, repoRoot } from './paths.js';
import type { OciRuntime } from './runtimes.js';

function onPath(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try { accessSync(path.join(dir, name), constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}

/** Why the e2e suite cannot run here at all, or undefined when it can. */
export function e2eSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'end-to-end tests need root (containerd, mounts, cgroups)';
  for (const tool of ['containerd', 'ctr', 'containerd-shim-runc-v2', 'runc']) {
    if (!onPath(tool)) return `${tool} is not on PATH (run scripts/setup-host.sh)`;
  }
  if (!existsSync('/bin/busybox')) return '/bin/busybox is missing (install busybox-static)';
  return undefined;
}

/** Why our shim cannot be tried (not built), or undefined. */
export function tsShimSkipReason(): string | undefined {
  if (!existsSync(path.join(binDir(), 'containerd-shim-ts-v2'))) return 'bin/containerd-shim-ts-v2 is missing';
  if (!existsSync(path.join(repoRoot(), 'dist', 'bundle', 'containerd-shim-ts-v2.mjs'))) {
    return 'dist/bundle/containerd-shim-ts-v2.mjs is missing (run npm run build)';
  }
  return undefined;
}

/** Why an OCI runtime cannot be used, or undefined. */
export function ociSkipReason(oci: OciRuntime): string | undefined {
  return onPath(oci) ? undefined : `${oci} is not on PATH`;
}

/** True when the host mounts cgroup v1 and v2 side by side (crun refuses that "hybrid" mode). */
export function cgroupHybrid(): boolean {
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  return /\scgroup2\s/.test(mounts) && /\scgroup\s/.test(mounts);
}

/** Long tests (other OCI runtimes, many containers, big outputs) run only with E2E_LONG=1. */
export function longSkipReason(): string | undefined {
  return process.env.E2E_LONG === '1' ? undefined : 'long test: set E2E_LONG=1 (scripts/test.sh does)';
}
