// The containerd configuration for the CRI end-to-end test: the CRI plugin section with a locally
// built sandbox (pause) image, no CNI (pods use the host network), and two runtime handlers —
// `runc` (containerd's reference shim) and `ts` (our shim, given its options the way a platform
// team would: TypeUrl/ConfigPath, which the CRI plugin turns into runtimeoptions.v1.Options).
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Inputs of {@link criPluginToml}. */
export interface CriConfigInput {
  /** The sandbox image reference, already imported into the k8s.io namespace. */
  readonly sandboxImage: string;
  /** An empty directory used as the CNI conf and bin dir, so no host CNI config is picked up. */
  readonly cniDir: string;
  /** Runtime state root for the runc handler (the runc shim appends the namespace). */
  readonly runcRoot: string;
  /** Path of our shim's TOML config file (written by {@link tsShimToml}'s caller). */
  readonly tsConfigPath: string;
  /**
   * Clamp containers' oom_score_adj to containerd's own. Needed when this process lacks
   * CAP_SYS_RESOURCE: the CRI plugin gives the sandbox -998, and runc's init then fails writing it.
   */
  readonly restrictOomScoreAdj: boolean;
}

function q(s: string): string {
  return JSON.stringify(s); // a JSON string is a valid TOML basic string for these values
}

/** The `[plugins."io.containerd.grpc.v1.cri"]` TOML for the test's private containerd. */
export function criPluginToml(c: CriConfigInput): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    `[${cri}]`,
    `  sandbox_image = ${q(c.sandboxImage)}`,
    // No streaming server port is needed (ExecSync is a plain unary call); keep it on loopback.
    '  disable_tcp_service = true',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    `  restrict_oom_score_adj = ${String(c.restrictOomScoreAdj)}`,
    '  enable_selinux = false',
    `  [${cri}.cni]`,
    `    bin_dir = ${q(c.cniDir)}`,
    `    conf_dir = ${q(c.cniDir)}`,
    `  [${cri}.containerd]`,
    '    default_runtime_name = "runc"',
    '    snapshotter = "overlayfs"',
    `    [${cri}.containerd.runtimes.runc]`,
    '      runtime_type = "io.containerd.runc.v2"',
    `      [${cri}.containerd.runtimes.runc.options]`,
    `        Root = ${q(c.runcRoot)}`,
    `    [${cri}.containerd.runtimes.ts]`,
    '      runtime_type = "io.containerd.ts.v2"',
    `      [${cri}.containerd.runtimes.ts.options]`,
    '        TypeUrl = "io.containerd.ts.v2.options"',
    `        ConfigPath = ${q(c.tsConfigPath)}`,
    '',
  ].join('\n');
}

/** Our shim's config file for the `ts` handler: runc as the OCI runtime, state under `root`. */
export function tsShimToml(root: string): string {
  return ['# Written by the CRI end-to-end test: our shim drives runc, like the reference handler.', 'binary_name = "runc"', `root = ${q(root)}`, ''].join('\n');
}

/** CAP_SYS_RESOURCE is capability bit 24. */
const CAP_SYS_RESOURCE = 24n;

/** Whether this process may lower oom_score_adj (has CAP_SYS_RESOURCE in its effective set). */
export function hasCapSysResource(statusFile = '/proc/self/status'): boolean {
  const line = readFileSync(statusFile, 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
  if (line === undefined) return false;
  const mask = BigInt(`0x${line.slice('CapEff:'.length).trim()}`);
  return ((mask >> CAP_SYS_RESOURCE) & 1n) === 1n;
}

/** Where the test keeps a handler's pod logs under the containerd temp dir. */
export function podLogDir(containerdDir: string, handler: string): string {
  return path.join(containerdDir, 'pods', handler);
}
