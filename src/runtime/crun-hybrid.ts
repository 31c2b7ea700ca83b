/**
 * crun 1.8 refuses to run on a cgroup "hybrid" host (v1 controllers plus a cgroup2 mount at
 * /sys/fs/cgroup/unified with controllers enabled): `cgroups in hybrid mode not supported`. The
 * set-up verified in oci-runtime-cli.md §8 is to run crun in a private mount namespace in which
 * the unified hierarchy is unmounted; crun then sees a legacy v1 host. The host is not changed.
 *
 * Without a shell, the namespace is made in two steps per invocation: `unshare --mount=<file>
 * umount /sys/fs/cgroup/unified` creates it (a fresh copy of the current mounts, so a rootfs
 * mounted a moment ago is visible) and pins it at <file>; `nsenter --mount=<file> crun …` then
 * runs crun in it with our stdio, argv and pid unchanged; finally the pin is unmounted.
 * The pin file must live on a private mount, hence one private bind mount per process.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MountFlags, UnmountFlags, mount, unmount } from '../sys/index.js';
import type { ProcessMonitor } from './monitor.js';

const UNIFIED = '/sys/fs/cgroup/unified';
const CGROUP2_SUPER_MAGIC = 0x63677270;

let hybridCache: boolean | undefined;

/** Whether this host is cgroup-hybrid in the way crun refuses (controllers enabled in the unified mount). */
export function crunNeedsPrivateNamespace(): boolean {
  if (hybridCache !== undefined) return hybridCache;
  let hybrid = false;
  try {
    const root = statfsSync('/sys/fs/cgroup');
    if (root.type !== CGROUP2_SUPER_MAGIC && existsSync(UNIFIED) && statfsSync(UNIFIED).type === CGROUP2_SUPER_MAGIC) {
      hybrid = readFileSync(path.join(UNIFIED, 'cgroup.controllers'), 'utf8').trim() !== '';
    }
  } catch {
    hybrid = false;
  }
  hybridCache = hybrid;
  return hybrid;
}

let pinDir: string | undefined;
let counter = 0;

function privatePinDir(): string {
  if (pinDir) return pinDir;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crun-mntns-'));
  mount(dir, dir, '', MountFlags.MS_BIND, '');
  try {
    mount('', dir, '', MountFlags.MS_PRIVATE, '');
  } catch (err) {
    unmount(dir, UnmountFlags.MNT_DETACH);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  pinDir = dir;
  process.once('exit', () => {
    try {
      unmount(dir, UnmountFlags.MNT_DETACH);
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  });
  return dir;
}

/** A prepared namespace: run `binary args` instead of crun, then call `release()`. */
export interface CrunNamespace {
  readonly binary: string;
  readonly args: string[];
  release(): void;
}

/** Creates a private mount namespace without the unified hierarchy and the argv that runs crun in it. */
export async function enterCrunNamespace(monitor: ProcessMonitor, crun: string, crunArgs: readonly string[], cwd: string): Promise<CrunNamespace> {
  const dir = privatePinDir();
  const pin = path.join(dir, `ns-${process.pid}-${++counter}`);
  writeFileSync(pin, '');
  const release = (): void => {
    try {
      unmount(pin, UnmountFlags.MNT_DETACH);
    } catch {
      // not pinned (unshare failed)
    }
    rmSync(pin, { force: true });
  };
  const made = await monitor.run({ binary: 'unshare', args: [`--mount=${pin}`, '--propagation', 'private', 'umount', UNIFIED] }).catch((err: unknown) => {
    release();
    throw err;
  });
  if (made.exitStatus !== 0) {
    release();
    throw new Error(`preparing a mount namespace for crun failed (unshare exit status ${made.exitStatus}): ${made.output.trim()}`);
  }
  return { binary: 'nsenter', args: [`--mount=${pin}`, `--wd=${cwd}`, '--', crun, ...crunArgs], release };
}
