/**
 * Every new container process (the init at create, each exec at start) is moved into the
 * container's cgroups by the OCI runtime writing its pid to `cgroup.procs`. The kernel guards such
 * moves with one global lock, and a writer that finds nobody wrote for a while first waits out an
 * RCU grace period: 5–20 ms on the hosts measured, the largest single step of a `runc exec`
 * (docs/benchmarks.md, round 4). A writer that comes within about one grace period of the previous
 * one pays nothing.
 *
 * So just before we start a runtime command that will move a process, we make that first write
 * ourselves, off the event loop: our own pid into the cgroup we are already in (a move to where it
 * is: nothing changes). The grace period then runs while the runtime is still starting up (its Go
 * runtime, state and spec loading, namespace entry take longer than the period), and the
 * runtime's own write finds the lock warm. Failing writes (read-only cgroupfs, no permission) only
 * switch the warm-up off; they never fail the call it precedes.
 */
import { closeSync, openSync, readFileSync, readSync, write, writeSync } from 'node:fs';
import path from 'node:path';
import { parseProcCgroup } from './cgroup-paths.js';

/** A mounted cgroup hierarchy: the controller key as in {@link parseProcCgroup}, where it is mounted, and which of its directories the mount shows as its root. */
interface CgroupMount {
  readonly key: string;
  readonly mountPoint: string;
  readonly root: string;
}

/** The cgroup (v1 or v2) mounts of `/proc/self/mountinfo`, first one per controller key. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  const seen = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const fields = line.slice(0, dash).split(' ');
    const [fsType, , superOptions = ''] = line.slice(dash + 3).split(' ');
    const root = unescapeMountField(fields[3] ?? '');
    const mountPoint = unescapeMountField(fields[4] ?? '');
    const keys = fsType === 'cgroup2' ? [''] : fsType === 'cgroup' ? cgroupV1Keys(superOptions) : [];
    for (const key of keys) {
      if (seen.has(key)) continue;
      seen.add(key);
      mounts.push({ key, mountPoint, root });
    }
  }
  return mounts;
}

const V1_NON_CONTROLLER_OPTIONS = new Set(['rw', 'ro', 'noprefix', 'clone_children', 'xattr', 'favordynmods', 'cpuset_v2_mode']);

function cgroupV1Keys(superOptions: string): string[] {
  return superOptions
    .split(',')
    .filter((o) => !V1_NON_CONTROLLER_OPTIONS.has(o) && !o.startsWith('release_agent='))
    .map((o) => o.replace(/^name=/, ''));
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The `cgroup.procs` file of the cgroup `cgroupPath` (as `/proc/self/cgroup` names it) in `mount`,
 * or undefined when that cgroup is outside what the mount shows.
 */
export function procsFileFor(mount: CgroupMount, cgroupPath: string): string | undefined {
  const rel = path.posix.relative(mount.root, cgroupPath);
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) return undefined;
  return path.posix.join(mount.mountPoint, rel, 'cgroup.procs');
}

/** Errors after which a write was still a writer of the lock (the kernel checks these after taking it). */
const WARMED_DESPITE = new Set(['EBUSY', 'EOPNOTSUPP']);

/**
 * How often the lock is written while held: well inside the grace period after the last writer in
 * which a new writer is still fast (12–50 ms measured on different days), so the runtime's write
 * always lands in it.
 */
const REWRITE_INTERVAL_MS = 5;

/**
 * A rewrite is made on this thread only if the last write ended less than this long ago: the lock
 * is surely still warm, and the write takes microseconds. Later than that (a busy loop ran the
 * timer late), it goes to a pool thread, as the first write does, because it may wait out a grace
 * period.
 */
const SYNC_REWRITE_WITHIN_MS = 9;

/**
 * A rewrite on this thread that takes longer than this means the lock was cold after all (a host
 * whose grace periods are shorter than {@link SYNC_REWRITE_WITHIN_MS}): from then on every write
 * goes to a pool thread, so the event loop is never held up twice.
 */
const SLOW_SYNC_WRITE_MS = 1;

export class CgroupWarmup {
  private holders = 0;
  private loop: Promise<void> | undefined;
  private disabled: boolean;
  private mounts: CgroupMount[] | undefined;
  /** `/proc/self/cgroup`, kept open and re-read at offset 0 (the kernel renders it afresh). */
  private ownCgroups: number | undefined;
  private target: { readonly file: string; readonly fd: number } | undefined;
  private readonly pidText = Buffer.from(`${process.pid}\n`);
  /** Completed writes, for tests and diagnostics. */
  writes = 0;
  /** Writes handed to a pool thread (the first one before hold() returns), for tests. */
  issued = 0;
  /** Rewrites made on this thread (cheap while the lock is warm), for tests. */
  syncWrites = 0;
  /** False once a rewrite on this thread was slow (see {@link SLOW_SYNC_WRITE_MS}). */
  private syncRewrites = true;
  /** When the last write ended (performance.now()). */
  private lastWriteEnd = -Infinity;

  private readonly slowSyncWriteMs: number;

  /** @param options.slowSyncWriteMs tests only: a rewrite on this thread slower than this switches rewrites to the pool */
  constructor(enabled = process.env['CONTAINERD_SHIM_TS_CGROUP_WARMUP'] !== '0', options: { readonly slowSyncWriteMs?: number } = {}) {
    this.disabled = !enabled;
    this.slowSyncWriteMs = options.slowSyncWriteMs ?? SLOW_SYNC_WRITE_MS;
  }

  /**
   * Keeps the lock warm until the returned function is called (once the runtime command that moves
   * a process has returned), or for at most `maxMs`. Never throws, never waits out a grace period
   * on the event loop (rewrites here take microseconds; one found slow sends the rest to the pool):
   * the first write is handed to a pool thread before this returns (reading where we are is a
   * read of /proc, microseconds), so the grace period starts now, not after the loop got round
   * to it — on a busy loop that was several milliseconds of the period's head start.
   */
  hold(maxMs = 60_000): () => void {
    if (this.disabled) return () => undefined;
    this.holders++;
    this.loop ??= this.run();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.holders--;
    };
    const timer = setTimeout(release, maxMs);
    timer.unref();
    return release;
  }

  /** Resolves once no warm-up is under way (tests). */
  async settled(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Drops the files kept open (tests; a daemon keeps them for its life). */
  async close(): Promise<void> {
    await this.settled();
    if (this.target) closeSync(this.target.fd);
    if (this.ownCgroups !== undefined) closeSync(this.ownCgroups);
    this.target = undefined;
    this.ownCgroups = undefined;
  }

  /**
   * One warm spell: the first write is handed to a pool thread before this returns, then one
   * rewrite every {@link REWRITE_INTERVAL_MS} while held. Resolves when the spell ends.
   *
   * The first write waits out the grace period; the ones after it are cheap and keep it passed.
   * Each rewrite costs one timer wake-up of this thread (on a pool thread it would also cost the
   * write's completion), and a wake-up of an idle Node thread costs more CPU than the write itself
   * (docs/benchmarks.md, round 11); plain timer callbacks for the same reason, not promises.
   */
  private run(): Promise<void> {
    return new Promise<void>((resolve) => {
      const end = (): void => {
        this.loop = undefined;
        resolve();
      };
      let fd: number | undefined;
      try {
        // Where we are is read once per warm spell (a few tens of ms), not before every write.
        fd = this.ownProcsFile();
      } catch {
        fd = undefined;
      }
      if (fd === undefined) {
        this.disabled = true;
        // Not from inside hold(), which assigns the spell after this returns.
        queueMicrotask(end);
        return;
      }
      const procs = fd;
      const held = (): boolean => this.holders > 0 && !this.disabled;
      const afterPoolWrite = (): void => {
        if (held()) setTimeout(rewrite, REWRITE_INTERVAL_MS);
        else end();
      };
      const rewrite = (): void => {
        try {
          if (!held()) end();
          else if (this.rewriteHere(procs)) setTimeout(rewrite, REWRITE_INTERVAL_MS);
          else this.writeOnPool(procs, afterPoolWrite);
        } catch {
          // A warm-up must never take the daemon down: it only switches itself off.
          this.disabled = true;
          end();
        }
      };
      try {
        this.writeOnPool(procs, afterPoolWrite);
      } catch {
        this.disabled = true;
        queueMicrotask(end);
      }
    });
  }

  /**
   * One rewrite on this thread when the lock is surely warm; false when it must go to a pool
   * thread instead (too long since the last write, or rewrites here were found slow).
   */
  private rewriteHere(fd: number): boolean {
    const start = performance.now();
    if (!this.syncRewrites || start - this.lastWriteEnd > SYNC_REWRITE_WITHIN_MS) return false;
    try {
      writeSync(fd, this.pidText, 0, this.pidText.length, 0);
      this.writes++;
    } catch (err) {
      if (!WARMED_DESPITE.has((err as NodeJS.ErrnoException).code ?? '')) this.disabled = true;
      else this.writes++;
    }
    this.syncWrites++;
    this.lastWriteEnd = performance.now();
    if (this.lastWriteEnd - start > this.slowSyncWriteMs) this.syncRewrites = false;
    return true;
  }

  /** One write of our pid, on a pool thread (it may wait out the grace period); `done` after it. */
  private writeOnPool(fd: number, done: () => void): void {
    this.issued++;
    write(fd, this.pidText, 0, this.pidText.length, 0, (err) => {
      const code = err?.code ?? '';
      if (!err || WARMED_DESPITE.has(code)) this.writes++;
      else this.disabled = true;
      this.lastWriteEnd = performance.now();
      done();
    });
  }

  /**
   * `cgroup.procs` of the cgroup we are in now, read afresh for every warm spell so a write does
   * not move us anywhere (should something else have moved us, we follow).
   */
  private ownProcsFile(): number | undefined {
    this.mounts ??= parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
    this.ownCgroups ??= openSync('/proc/self/cgroup', 'r');
    const buf = Buffer.alloc(8192);
    const bytesRead = readSync(this.ownCgroups, buf, 0, buf.length, 0);
    const ours = parseProcCgroup(buf.toString('utf8', 0, bytesRead));
    let file: string | undefined;
    for (const mount of this.mounts) {
      const cgroup = ours.get(mount.key);
      file = cgroup === undefined ? undefined : procsFileFor(mount, cgroup);
      if (file) break;
    }
    if (!file) return undefined;
    if (this.target?.file !== file) {
      if (this.target) closeSync(this.target.fd);
      this.target = undefined;
      this.target = { file, fd: openSync(file, 'w') };
    }
    return this.target.fd;
  }
}

/** One per process: the lock it warms is one per kernel. */
export const cgroupWarmup = new CgroupWarmup();
