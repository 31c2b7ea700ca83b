// The runtimes a scenario runs on: the reference shim (containerd-shim-runc-v2 with runc) and our
// shim (containerd-shim-ts-v2) driving runc, crun or runsc through a runtime config file.
//
// How ctr 1.6 passes runtime options (cmd/ctr/commands/run/run_unix.go, verified with `ctr run --help`):
// - for io.containerd.runc.v2: `--runc-binary`, `--runc-root`, `--runc-systemd-cgroup` become
//   containerd.runc.v1.Options; `--runtime-config-path` is ignored for that runtime;
// - for any other runtime: only `--runtime-config-path <file>`, sent as runtimeoptions.v1.Options
//   {config_path}; `--runc-binary` is refused ("only supported for io.containerd.runc.v2").
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Containerd } from './containerd.js';

/** An OCI runtime executable the shims can drive. */
export type OciRuntime = 'runc' | 'crun' | 'runsc';

/** One side of a differential test. */
export interface RuntimeUnderTest {
  /** Short label used in test names and state roots, e.g. `runc.v2/runc`, `ts.v2/runsc`. */
  readonly label: string;
  /** containerd runtime name. */
  readonly runtime: 'io.containerd.runc.v2' | 'io.containerd.ts.v2';
  readonly oci: OciRuntime;
  /** True for the reference shim. */
  readonly reference: boolean;
}

/** The reference: containerd's own runc v2 shim with runc. */
export const REFERENCE: RuntimeUnderTest = { label: 'runc.v2/runc', runtime: 'io.containerd.runc.v2', oci: 'runc', reference: true };

/** Our shim with each OCI runtime. */
export const TS_RUNC: RuntimeUnderTest = { label: 'ts.v2/runc', runtime: 'io.containerd.ts.v2', oci: 'runc', reference: false };
/** Our shim with crun. */
export const TS_CRUN: RuntimeUnderTest = { label: 'ts.v2/crun', runtime: 'io.containerd.ts.v2', oci: 'crun', reference: false };
/** Our shim with gVisor's runsc (needs `network = "none"` here). */
export const TS_RUNSC: RuntimeUnderTest = { label: 'ts.v2/runsc', runtime: 'io.containerd.ts.v2', oci: 'runsc', reference: false };

/** Contents of our shim's runtime config file (README.md, "Choosing runc, crun or runsc"). */
export function runtimeConfigToml(oci: OciRuntime, root: string): string {
  const lines = [`binary_name = ${JSON.stringify(oci)}`, `root = ${JSON.stringify(root)}`];
  // runsc cannot set up its netstack on this host; a container without network is all we need.
  if (oci === 'runsc') lines.push('', '[runsc_config]', 'network = "none"');
  return `${lines.join('\n')}\n`;
}

/** Writes (once per containerd) the runtime config file our shim reads for `oci`; returns its path. */
export function runtimeConfigFile(cd: Containerd, oci: OciRuntime): string {
  const dir = path.join(cd.dir, 'runtimes');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${oci}.toml`);
  writeFileSync(file, runtimeConfigToml(oci, cd.runtimeRoot(oci, `ts-${oci}`)));
  return file;
}

/**
 * The `ctr run` flags that select `rt` on `cd`, with the runtime's state kept under the temp dir
 * (so teardown can sweep it and nothing lands in /run/containerd/runc).
 */
export function runtimeFlags(cd: Containerd, rt: RuntimeUnderTest): string[] {
  if (rt.runtime === 'io.containerd.runc.v2') {
    return ['--runtime', rt.runtime, '--runc-binary', rt.oci, '--runc-root', cd.runtimeRoot(rt.oci, `ref-${rt.oci}`)];
  }
  return ['--runtime', rt.runtime, '--runtime-config-path', runtimeConfigFile(cd, rt.oci)];
}
