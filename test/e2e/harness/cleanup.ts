// Best-effort removal of what a private containerd leaves when something went wrong: processes
// that belong to it (found by its unique socket path), runtime containers in its roots, mounts under
// its directory. Every step targets only things provably ours — never processes by name.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

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

/** Force-deletes every container a runtime still lists under `root/<namespace>` for each namespace. */
export function sweepRuntimeRoot(r: RuntimeRoot): string[] {
  const removed: string[] = [];
  let namespaces: string[];
  try { namespaces = readdirSync(r.root); } catch { return removed; }
  for (const ns of namespaces) {
    const root = path.join(r.root, ns);
    const quiet = path.basename(r.binary).includes('runsc') ? '-quiet' : '-q';
    const list = spawnSync(r.binary, ['--root', root, 'list', quiet], { encoding: 'utf8', timeout: 10_000 });
    if (list.status !== 0) continue;
    for (const id of list.stdout.split('\n').map((s) => s.trim()).filter(Boolean)) {
      spawnSync(r.binary, ['--root', root, 'delete', '--force', id], { stdio: 'ignore', timeout: 10_000 });
      removed.push(`${ns}/${id}`);
    }
  }
  return removed;
}
