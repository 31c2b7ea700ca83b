// Sets up and tears down the CRI test's world: a private containerd (the shared e2e harness) with
// the CRI plugin enabled and configured by criPluginToml, busybox and pause images built locally
// and imported with `ctr -n k8s.io images import`, and a CriClient on containerd's socket.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Containerd } from '../harness/containerd.js';
import { busyboxImage } from '../harness/oci-image.js';
import { repoRoot } from '../harness/paths.js';
import { CriClient } from './cri-client.js';
import { criPluginToml, hasCapSysResource, tsShimToml } from './cri-config.js';
import { GrpcError } from './grpc-unix.js';
import { removeLabelledPods } from './pod-scenario.js';

/** The containerd namespace the CRI plugin works in. */
export const CRI_NAMESPACE = 'k8s.io';
/** Image references the test imports. */
export const BUSYBOX_REF = 'localhost/containerd-shim-ts-e2e/busybox:1';
export const PAUSE_REF = 'localhost/containerd-shim-ts-e2e/pause:1';

/** A running CRI test environment. */
export interface CriEnv {
  readonly containerd: Containerd;
  readonly cri: CriClient;
  /** Unique per run: pod label value and cgroup parent suffix. */
  readonly runId: string;
  /** The pods' parent cgroup (cgroupfs syntax). */
  readonly cgroupParent: string;
  /** Notes about host adaptations made (for the test's diagnostics). */
  readonly notes: readonly string[];
  /** Removes pods, containerd, shims, mounts, cgroups and the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown when the host cannot run the CRI plugin at all; the message says exactly why. */
export class CriUnavailable extends Error {
  override readonly name = 'CriUnavailable';
}

function onPath(binary: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(path.join(d, binary)));
}

/** Why the host cannot run the test at all (missing tools, not root), or undefined. */
export function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root (containerd, runc and overlay mounts)';
  for (const b of ['containerd', 'ctr', 'runc']) if (!onPath(b)) return `${b} is not on PATH (install the containerd and runc packages)`;
  if (!existsSync('/bin/busybox')) return '/bin/busybox is missing (install busybox-static)';
  return undefined;
}

/** The path of our shim's bundle, which `npm run build` writes; the `ts` handler needs it. */
export function shimBundlePath(): string {
  return path.join(repoRoot(), 'dist', 'bundle', 'containerd-shim-ts-v2.mjs');
}

/** Removes `<mount>/<parent>` (and empty children) in every cgroup hierarchy; only our own parent. */
function removeCgroupParent(parent: string): void {
  const base = '/sys/fs/cgroup';
  let hierarchies: string[];
  try {
    hierarchies = readdirSync(base).map((h) => path.join(base, h));
  } catch {
    return;
  }
  if (existsSync(path.join(base, 'cgroup.controllers'))) hierarchies = [base]; // pure cgroup v2
  const removeTree = (dir: string): void => {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir).filter((e) => statSync(path.join(dir, e)).isDirectory());
    } catch {
      return;
    }
    for (const e of entries) removeTree(path.join(dir, e));
    try { rmdirSync(dir); } catch { /* busy or gone: nothing more we may do */ }
  };
  for (const h of hierarchies) removeTree(path.join(h, parent));
}

/** Pulls the reason out of containerd's log when the CRI plugin did not come up. */
function criLoadErrors(log: string): string {
  const lines = log.split('\n').filter((l) => /grpc\.v1\.cri|cri plugin|level=(error|fatal)/i.test(l) && !/cni/i.test(l));
  return lines.slice(-8).join('\n') || '(no CRI-related lines in the containerd log)';
}

/**
 * Starts containerd with the CRI plugin, imports the images and checks the plugin answers.
 * Throws CriUnavailable when the plugin itself cannot run here; cleans up after any failure.
 */
export async function startCriEnv(): Promise<CriEnv> {
  const runId = `e2e${randomBytes(4).toString('hex')}`;
  const cgroupParent = `/containerd-shim-ts-${runId}`;
  const notes: string[] = [];
  const restrictOomScoreAdj = !hasCapSysResource();
  if (restrictOomScoreAdj) {
    notes.push('no CAP_SYS_RESOURCE: restrict_oom_score_adj = true (otherwise runc cannot set the sandbox\'s oom_score_adj -998)');
  }
  const containerd = await Containerd.start({
    namespace: CRI_NAMESPACE,
    readyTimeoutMs: 30_000,
    cri: {
      config: (p) => {
        const cniDir = path.join(p.dir, 'cni');
        mkdirSync(cniDir, { recursive: true });
        const tsConfigPath = path.join(p.dir, 'ts-shim.toml');
        writeFileSync(tsConfigPath, tsShimToml(path.join(p.dir, 'runtime-root', 'cri-ts')));
        return criPluginToml({
          sandboxImage: PAUSE_REF,
          cniDir,
          runcRoot: path.join(p.dir, 'runtime-root', 'cri-runc'),
          tsConfigPath,
          restrictOomScoreAdj,
        });
      },
    },
  });
  // Register the runtime roots so the harness sweeps whatever a failed run leaves in them.
  containerd.runtimeRoot('runc', 'cri-runc');
  containerd.runtimeRoot('runc', 'cri-ts');
  let cri: CriClient | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (cri !== undefined) {
      await removeLabelledPods(cri, runId).catch(() => undefined);
      cri.close();
    }
    await containerd.stop();
    removeCgroupParent(cgroupParent);
  };
  try {
    cri = await CriClient.connect(containerd.address);
    try {
      await cri.version();
    } catch (err) {
      if (err instanceof GrpcError && err.code === 12) {
        throw new CriUnavailable(`containerd's CRI plugin did not load (runtime.v1.RuntimeService is not served):\n${criLoadErrors(containerd.logTail(400))}`);
      }
      throw err;
    }
    const status = await cri.status();
    const runtimeReady = status.status?.conditions.find((c) => c.type === 'RuntimeReady');
    if (runtimeReady !== undefined && !runtimeReady.status) {
      throw new CriUnavailable(`CRI plugin reports RuntimeReady=false: ${runtimeReady.reason} ${runtimeReady.message}`);
    }
    const busybox = busyboxImage({ name: BUSYBOX_REF });
    // The sandbox only has to stay alive until StopPodSandbox kills it.
    const pause = busyboxImage({ name: PAUSE_REF, run: { entrypoint: ['/bin/sleep'], cmd: ['2147483647'] } });
    await containerd.importImage(busybox, CRI_NAMESPACE);
    await containerd.importImage(pause, CRI_NAMESPACE);
    // The CRI plugin learns about imported images from containerd's events; wait until it has.
    const deadline = Date.now() + 15_000;
    for (const ref of [BUSYBOX_REF, PAUSE_REF]) {
      while ((await cri.imageStatus(ref)) === undefined) {
        if (Date.now() > deadline) throw new Error(`the CRI plugin does not list the imported image ${ref}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { containerd, cri, runId, cgroupParent, notes, stop };
}
