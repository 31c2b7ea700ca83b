// What the kernel and the file system say about a shim after load: its processes, their fds,
// memory and zombies, and what is left on disk (mounts, fifos, sockets, state dirs). Only /proc and
// the directories a private containerd owns are read, so the same probe works for either shim.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { Containerd } from '../harness/index.js';

/** One process from /proc. */
export interface Proc {
  readonly pid: number;
  readonly ppid: number;
  /** Single-letter state from /proc/PID/stat (R, S, Z, …). */
  readonly state: string;
  readonly argv: readonly string[];
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces or parentheses; the fields after the last ')' are positional.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
    return { pid, ppid: Number(rest[1]), state: rest[0] ?? '?', argv };
  } catch {
    return undefined; // exited while we looked
  }
}

/** Every process visible now. */
export function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

/**
 * Our shim daemons serving `cd`: argv holds its address and our bundle or launcher, and no action
 * word (the short-lived `start` and `delete` invocations containerd runs are not daemons).
 */
export function ourDaemons(cd: Containerd, procs: readonly Proc[] = processes()): Proc[] {
  return procs.filter((p) => p.pid !== process.pid && p.argv.includes(cd.address)
    && p.argv.some((a) => path.basename(a).startsWith('containerd-shim-ts'))
    && !p.argv.includes('start') && !p.argv.includes('delete'));
}

/** Reference shims (containerd-shim-runc-v2) serving `cd`. */
export function referenceShims(cd: Containerd, procs: readonly Proc[] = processes()): Proc[] {
  return procs.filter((p) => p.argv.includes(cd.address) && p.argv.some((a) => path.basename(a) === 'containerd-shim-runc-v2'));
}

/** Every descendant of `root` (not `root` itself). */
export function descendants(root: number, procs: readonly Proc[] = processes()): Proc[] {
  const byParent = new Map<number, Proc[]>();
  for (const p of procs) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const out: Proc[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const c of byParent.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** The targets of a process's open fds (`socket:[…]`, `pipe:[…]`, paths), or [] if it is gone. */
export function fdTargets(pid: number): string[] {
  let names: string[];
  try { names = readdirSync(`/proc/${pid}/fd`); } catch { return []; }
  const out: string[] = [];
  for (const n of names) {
    try { out.push(readlinkSync(`/proc/${pid}/fd/${n}`)); } catch { /* closed meanwhile */ }
  }
  return out;
}

/** Open fds grouped by kind (socket, pipe, anon_inode:…, or the first path component). */
export function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const t of fdTargets(pid)) {
    const kind = t.startsWith('/') ? `/${t.split('/')[1] ?? ''}` : t.replace(/:\[?\d+\]?$/, '').replace(/\[.*$/, '');
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

/** Rss and Pss of one process in KiB (smaps_rollup), or undefined if it is gone. */
export function memoryKiB(pid: number): { rss: number; pss: number } | undefined {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'); } catch { return undefined; }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rss: field('Rss'), pss: field('Pss') };
}

/** Mount points at or below `dir`. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** One entry of a directory tree snapshot: type letter, mode and size (files only). */
export type TreeEntry = string;

/** `relative path → "type mode size mtime"` for everything below `dir` (nothing when absent). */
export function treeSnapshot(dir: string, options: { mtime?: boolean } = {}): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const walk = (d: string): void => {
    let names: string[];
    try { names = readdirSync(d); } catch { return; }
    for (const n of names) {
      const full = path.join(d, n);
      let st;
      try { st = lstatSync(full); } catch { continue; }
      const type = st.isDirectory() ? 'd' : st.isFIFO() ? 'p' : st.isSocket() ? 's' : st.isSymbolicLink() ? 'l' : 'f';
      const size = type === 'f' ? ` ${st.size}` : '';
      const mtime = options.mtime ? ` ${st.mtimeMs}` : '';
      out.set(path.relative(dir, full), `${type} ${(st.mode & 0o7777).toString(8)}${size}${mtime}`);
      if (type === 'd') walk(full);
    }
  };
  walk(dir);
  return out;
}

/** Entries added, removed or changed between two snapshots. */
export function treeDiff(before: ReadonlyMap<string, TreeEntry>, after: ReadonlyMap<string, TreeEntry>): string[] {
  const out: string[] = [];
  for (const [k, v] of after) {
    const was = before.get(k);
    if (was === undefined) out.push(`+ ${k} (${v})`);
    else if (was !== v) out.push(`~ ${k} (${was} → ${v})`);
  }
  for (const k of before.keys()) if (!after.has(k)) out.push(`- ${k}`);
  return out.sort();
}

/** The task state dir containerd keeps for a namespace (bundles live below it). */
export function taskStateDir(cd: Containerd, namespace: string): string {
  return path.join(cd.state, 'io.containerd.runtime.v2.task', namespace);
}

/** What a private containerd has left on disk that a finished task could have leaked. */
export interface DiskLeftovers {
  /** Bundle directories under the namespace's task state dir. */
  readonly bundles: string[];
  /** Mount points under the containerd's temp dir. */
  readonly mounts: string[];
  /** Fifos anywhere under the containerd's temp dir (ctr's stdio fifos live in /tmp/ctr-*, checked by the caller). */
  readonly fifos: string[];
  /** Container state dirs left in the runtime roots. */
  readonly runtimeState: string[];
}

/** Scans `cd`'s directories for task leftovers of `namespace`. */
export function diskLeftovers(cd: Containerd, namespace: string): DiskLeftovers {
  let bundles: string[] = [];
  try { bundles = readdirSync(taskStateDir(cd, namespace)); } catch { /* none yet */ }
  const tree = treeSnapshot(cd.dir);
  // ctr's own fifos (the harness's --fifo-dir, inside cd.dir) are the client's: checked apart.
  const ctrFifos = `${path.relative(cd.dir, cd.ctrFifoDir)}/`;
  const fifos = [...tree].filter(([k, v]) => v.startsWith('p ') && !k.startsWith(ctrFifos)).map(([k]) => k);
  const runtimeState = [...tree].filter(([k, v]) => v.startsWith('d ') && /^runtime-root\/[^/]+\/[^/]+\/[^/]+$/.test(k)).map(([k]) => k);
  return { bundles, mounts: mountsUnder(cd.dir), fifos, runtimeState };
}
