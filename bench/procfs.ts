// What the kernel says about shim processes: which processes belong to a shim, their memory from
// /proc/PID/smaps_rollup and their CPU time from /proc/PID/stat. Only /proc is read, so the
// numbers mean the same for a Go shim and a Node one.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

/** One process as seen in /proc at the time of a snapshot. */
export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly argv: readonly string[];
  /** The `pid:[inode]` link of its pid namespace (containers have their own). */
  readonly pidns: string;
}

/** Memory of one process or a sum of processes, in KiB. */
export interface MemoryKiB {
  readonly rss: number;
  readonly pss: number;
  readonly privateDirty: number;
}

function statFields(pid: number): string[] | undefined {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return undefined; }
  // comm (field 2) may hold spaces and parentheses; everything after the last ')' is positional.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  return text.slice(close + 2).trim().split(/\s+/); // [0] is field 3 (state)
}

/** Every process visible in /proc now (those that vanish mid-read are skipped). */
export function snapshot(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s, i, a) => s !== '' || i < a.length - 1);
      const f = statFields(pid);
      if (f === undefined) continue;
      out.push({ pid, ppid: Number(f[1]), argv, pidns: readlinkSync(`/proc/${pid}/ns/pid`) });
    } catch { /* exited while we looked */ }
  }
  return out;
}

/**
 * The processes of one kind of shim talking to one containerd: every process whose argv holds
 * `address` as a whole argument (shims get `-address <containerd socket>`) and an argument whose
 * file name starts with `binaryMarker` (the Go binary itself, or the Node bundle/launcher of ours),
 * plus their descendants that share our pid namespace — helpers a shim may run, and the OCI runtime
 * while it runs — but not container processes, which live in their own pid namespace.
 */
export function shimProcesses(address: string, binaryMarker: string, procs: readonly ProcInfo[] = snapshot()): ProcInfo[] {
  const hostNs = (() => { try { return readlinkSync('/proc/self/ns/pid'); } catch { return ''; } })();
  const roots = procs.filter((p) => p.pid !== process.pid && p.argv.includes(address)
    && p.argv.some((a) => path.basename(a).startsWith(binaryMarker)));
  const chosen = new Map<number, ProcInfo>(roots.map((p) => [p.pid, p]));
  const children = new Map<number, ProcInfo[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const queue = [...roots];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of children.get(p.pid) ?? []) {
      if (chosen.has(c.pid) || c.pidns !== hostNs) continue;
      chosen.set(c.pid, c);
      queue.push(c);
    }
  }
  return [...chosen.values()];
}

/** Rss, Pss and Private_Dirty of one process from smaps_rollup, or undefined if it is gone. */
export function readMemory(pid: number): MemoryKiB | undefined {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'); } catch { return undefined; }
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { rss: field('Rss'), pss: field('Pss'), privateDirty: field('Private_Dirty') };
}

/**
 * KiB of the memfd files `pids` hold open, each file counted once. A memfd the holder never maps
 * (our daemon's sealed runc copy) is in nobody's smaps, yet its pages are memory the shim keeps.
 */
export function heldMemfdKiB(pids: readonly number[]): number {
  const seen = new Set<string>();
  let bytes = 0;
  for (const pid of pids) {
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      const link = `/proc/${pid}/fd/${fd}`;
      try {
        if (!readlinkSync(link).startsWith('/memfd:')) continue;
        const st = statSync(link);
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        bytes += st.blocks * 512;
      } catch { /* closed meanwhile */ }
    }
  }
  return Math.round(bytes / 1024);
}

/**
 * Summed memory of `pids` (processes that vanished count nothing) and how many were read. PSS also
 * counts the memfds they hold ({@link heldMemfdKiB}), as memory only they keep alive.
 */
export function totalMemory(pids: readonly number[]): MemoryKiB & { readonly processes: number; readonly heldMemfd: number } {
  let rss = 0, pss = 0, privateDirty = 0, processes = 0;
  for (const pid of pids) {
    const m = readMemory(pid);
    if (!m) continue;
    rss += m.rss; pss += m.pss; privateDirty += m.privateDirty; processes++;
  }
  const heldMemfd = heldMemfdKiB(pids);
  return { rss, pss: pss + heldMemfd, privateDirty, processes, heldMemfd };
}

/**
 * CPU clock ticks a process has used: utime+stime of itself plus cutime+cstime of the children it
 * has waited for (an OCI runtime run by the shim ends up there once reaped), or undefined if gone.
 */
export function readCpuTicks(pid: number): number | undefined {
  const f = statFields(pid);
  if (f === undefined) return undefined;
  // Fields 14–17 (utime, stime, cutime, cstime) are at offsets 11–14 after the state field.
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
}

/**
 * CPU time the threads of `pid` (not its children) have run, in ms, from each thread's
 * /proc/PID/task/TID/schedstat (nanoseconds; ticks are too coarse for a few ms per request).
 * Threads that exited are not counted: only compare it across a span in which none exit.
 */
export function threadsCpuMs(pid: number): number | undefined {
  return threadsSchedstat(pid)?.cpuMs;
}

/** A process's scheduler counters summed over its threads (`/proc/PID/task/TID/schedstat`). */
export interface ThreadsSchedstat {
  /** Time on a CPU. */
  readonly cpuMs: number;
  /** Time runnable but waiting for a CPU. */
  readonly waitMs: number;
  /** Times a thread was put on a CPU: each wake-up from sleep, and each return after being preempted. */
  readonly slices: number;
}

/** {@link ThreadsSchedstat} of every thread of `pid` (threads gone meanwhile are skipped); undefined when the process is gone. */
export function threadsSchedstat(pid: number): ThreadsSchedstat | undefined {
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return undefined; }
  let cpuNs = 0;
  let waitNs = 0;
  let slices = 0;
  for (const tid of tids) {
    try {
      const [cpu = '0', wait = '0', runs = '0'] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ');
      cpuNs += Number(cpu);
      waitNs += Number(wait);
      slices += Number(runs);
    } catch { /* thread gone */ }
  }
  return { cpuMs: cpuNs / 1e6, waitMs: waitNs / 1e6, slices };
}

/** {@link threadsSchedstat} summed over several processes; processes gone count nothing. */
export function processesSchedstat(pids: readonly number[]): ThreadsSchedstat {
  let cpuMs = 0;
  let waitMs = 0;
  let slices = 0;
  for (const pid of pids) {
    const s = threadsSchedstat(pid);
    if (!s) continue;
    cpuMs += s.cpuMs;
    waitMs += s.waitMs;
    slices += s.slices;
  }
  return { cpuMs, waitMs, slices };
}

/** What the counters grew by from `before` to `after`. */
export function schedstatSince(before: ThreadsSchedstat, after: ThreadsSchedstat): ThreadsSchedstat {
  return { cpuMs: after.cpuMs - before.cpuMs, waitMs: after.waitMs - before.waitMs, slices: after.slices - before.slices };
}

let clockTicks: number | undefined;
/** The kernel's USER_HZ (ticks per second of /proc/PID/stat times), from `getconf CLK_TCK`. */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try { clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { clockTicks = 100; }
  }
  return clockTicks;
}
