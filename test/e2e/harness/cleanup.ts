// Best-effort removal of what a private containerd leaves when something went wrong: processes
// that belong to it (found by its unique socket path), runtime containers in its roots, mounts under
// its directory. Every step targets only things provably ours — never processes by name.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseVersion } from '../../../src/runtime/version.js';
import type { RuntimeKind } from '../../../src/runtime/types.js';

/** Pids whose argv contains `needle` as one whole argument (e.g. a shim's `-address <socket>`). */
export function pidsWithArgument(needle: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cmdline: string;
    try { cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8'); } catch { continue; }
    if (cmdline.split('\0').includes(needle)) pids.push(Number(name));
  }
  return pids;
}

/** Sends SIGKILL to each pid, ignoring ones that are already gone. */
export function killPids(pids: readonly number[], signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of pids) {
    try { process.kill(pid, signal); } catch { /* gone */ }
  }
}

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir`, deepest first (the order they must be unmounted in). */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const points = text.split('\n').filter(Boolean).map((l) => unescapeMountPath(l.split(' ')[4] ?? ''))
    .filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Lazily unmounts everything at or below `dir`; returns what could not be unmounted. */
export function unmountUnder(dir: string): string[] {
  for (let round = 0; round < 3; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return [];
    for (const p of points) spawnSync('umount', ['-l', p], { stdio: 'ignore' });
  }
  return mountsUnder(dir);
}

/** A runtime state root the harness gave to a runtime, to sweep containers from on teardown. */
export interface RuntimeRoot {
  /** Runtime executable (runc, crun, runsc or a path). */
  readonly binary: string;
  /** Root passed to the shim; the runtime's real root is `<root>/<namespace>`. */
  readonly root: string;
}

/** What `<binary> --version` says it is (runc, crun, runsc), cached per binary; undefined if none of them. */
export function runtimeKindOf(binary: string): RuntimeKind | undefined {
  if (!kinds.has(binary)) {
    const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    kinds.set(binary, r.status === 0 ? parseVersion(r.stdout)?.kind : undefined);
  }
  return kinds.get(binary);
}
const kinds = new Map<string, RuntimeKind | undefined>();

/**
 * The state roots a runtime may hold containers in below a root the harness handed out:
 * `<root>/<namespace>` (the shims append the namespace), and for runsc also each per-pod root
 * `<root>/<namespace>/<pod key>` our shim uses (src/shim/runsc-root.ts). runc's and crun's
 * subdirectories are their containers' state, not roots.
 */
export function runtimeStateRoots(r: RuntimeRoot, kind = runtimeKindOf(r.binary)): string[] {
  const roots: string[] = [];
  for (const ns of subdirectories(r.root)) {
    const root = path.join(r.root, ns);
    roots.push(root);
    if (kind === 'runsc') roots.push(...subdirectories(root).map((pod) => path.join(root, pod)));
  }
  return roots;
}

function subdirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * Force-deletes every container a runtime still lists in any of its state roots below `r.root`
 * ({@link runtimeStateRoots}); returns them as `<root relative to r.root>/<id>`.
 */
export function sweepRuntimeRoot(r: RuntimeRoot): string[] {
  const removed: string[] = [];
  const kind = runtimeKindOf(r.binary);
  // runsc's flag package spells it -quiet; runc and crun take -q.
  const quiet = kind === 'runsc' ? '-quiet' : '-q';
  for (const root of runtimeStateRoots(r, kind)) {
    const list = spawnSync(r.binary, ['--root', root, 'list', quiet], { encoding: 'utf8', timeout: 10_000 });
    if (list.status !== 0) continue;
    for (const id of list.stdout.split('\n').map((s) => s.trim()).filter(Boolean)) {
      spawnSync(r.binary, ['--root', root, 'delete', '--force', id], { stdio: 'ignore', timeout: 10_000 });
      removed.push(`${path.relative(r.root, root)}/${id}`);
    }
  }
  return removed;
}

/** Where shims put their sockets (the Go framework's convention, which both shims keep). */
export const SHIM_SOCKET_DIR = '/run/containerd/s';

/** The entries of the shim socket directory now (empty when it does not exist). */
export function shimSocketEntries(): Set<string> {
  try {
    return new Set(readdirSync(SHIM_SOCKET_DIR));
  } catch {
    return new Set();
  }
}

function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    const done = (alive: boolean): void => {
      clearTimeout(timer);
      conn.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(true), 500); // no answer yet: leave it alone
    conn.once('connect', () => done(true));
    conn.once('error', () => done(false));
  });
}

/**
 * Removes shim sockets (and their `.warm` / `.claim` markers) that appeared after `before` and that
 * nothing listens on any more: a shim that died without cleaning up — the reference after a crash
 * (it panics on an exec without a spec) or a SIGKILLed daemon in a fault test. A live socket is
 * never touched, so a concurrently running suite keeps its own. Returns what was removed.
 */
export async function removeDeadShimSockets(before: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  const now = shimSocketEntries();
  for (const name of now) {
    if (before.has(name) || name.endsWith('.warm') || name.endsWith('.claim')) continue;
    const socket = path.join(SHIM_SOCKET_DIR, name);
    if (await accepts(socket)) continue;
    for (const file of [socket, `${socket}.warm`, `${socket}.claim`]) {
      try {
        rmSync(file);
        removed.push(path.basename(file));
      } catch { /* already gone */ }
    }
  }
  // Markers whose socket is gone (a daemon killed between removing one and the other).
  for (const name of now) {
    const base = name.replace(/\.(warm|claim)$/, '');
    if (base === name || before.has(name) || now.has(base) && existsSync(path.join(SHIM_SOCKET_DIR, base))) continue;
    try {
      rmSync(path.join(SHIM_SOCKET_DIR, name));
      removed.push(name);
    } catch { /* already gone */ }
  }
  return removed;
}
