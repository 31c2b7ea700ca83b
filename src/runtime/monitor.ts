/**
 * ProcessMonitor: the one place that starts runtime processes and learns exits.
 *
 * Two kinds of children reach a shim that is a child subreaper:
 *  - runtime commands it spawns (`runc create`…): libuv spawned them, libuv reaps them, and we
 *    learn their status from child_process;
 *  - processes re-parented to us when their parent exited (the container init after `create`,
 *    exec'd processes, runsc's gofer and helpers): libuv knows nothing of them.
 * The second kind is reaped *by pid* on SIGCHLD with waitpid(pid, WNOHANG), never waitpid(-1),
 * which would steal statuses libuv is waiting for. Watched pids are checked on every SIGCHLD.
 * Zombies nobody watches are reaped by a sweep of our children, but only after they stayed zombies
 * across two sweeps a grace period apart (so a child another part of the program spawned through
 * child_process has been reaped by libuv first); their exits are kept for a while so a subscriber
 * that reads a pid file late still gets the status.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { forgetBinary, resolveBinary } from './resolve-binary.js';
import { FastSpawnError, fastRun, fastSpawnFits } from './fast-spawn.js';
import { everySecond } from './second-ticker.js';
import { createPipe, isChildSubreaper, reapPid, setChildSubreaper, type WaitStatus } from '../sys/index.js';

/** How a process ended. */
export interface ProcessExit {
  readonly pid: number;
  /** Exit code, or 128 + signal number when killed by a signal. */
  readonly exitStatus: number;
  /** The terminating signal number, when there was one. */
  readonly signal: number | undefined;
  /** When the monitor learned of it. */
  readonly exitedAt: Date;
}

/** One command to run; stdio entries are fds, `'capture'` (stdout/stderr), a Buffer (stdin) or `'null'`. */
export interface CommandSpec {
  readonly binary: string;
  /**
   * The file to execute, when not the one `binary` resolves to on PATH (argv[0] stays `binary`):
   * e.g. a sealed copy of it (sealed-binary.ts).
   */
  readonly executable?: string;
  readonly args: readonly string[];
  readonly stdin?: number | Buffer | 'null';
  readonly stdout?: number | 'capture' | 'null';
  readonly stderr?: number | 'capture' | 'null';
  /** fds the command gets as its fds 3, 4, … (e.g. a pipe it opens as /proc/self/fd/3). */
  readonly inheritFds?: readonly number[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** SIGKILL the command after this many milliseconds. */
  readonly timeoutMs?: number;
  /** Called with each captured chunk (stdout and stderr), e.g. for streaming `events`. */
  readonly onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
}

/** The outcome of a command that ran (whatever its status). */
export interface CommandResult {
  readonly pid: number;
  readonly exitStatus: number;
  readonly signal: number | undefined;
  /** stdout and stderr interleaved in arrival order. */
  readonly output: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** A started command: its pid, a way to stop it, and its result. */
export interface RunningCommand {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly result: Promise<CommandResult>;
  kill(signal?: NodeJS.Signals): void;
}

/** The command could not be started at all (missing binary, EACCES…). */
export class SpawnError extends Error {
  override readonly name = 'SpawnError';
  constructor(
    readonly binary: string,
    readonly code: string | undefined,
    cause: unknown,
  ) {
    super(`failed to run ${binary}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Tuning of the monitor; defaults suit the shim. */
export interface ProcessMonitorOptions {
  /** Make this process a child subreaper at construction (default true). */
  readonly subreaper?: boolean;
  /** How long exits of pids nobody watched are kept (default 5 minutes). */
  readonly keepUnclaimedMs?: number;
  /** How long an unwatched zombie must stay a zombie before the sweep reaps it (default 200 ms). */
  readonly sweepGraceMs?: number;
}

/** Signal numbers on Linux, for 128+signal from child_process's signal names. */
function signalNumber(name: NodeJS.Signals | null): number | undefined {
  if (!name) return undefined;
  return (osConstants.signals as Record<string, number>)[name];
}

const MAX_UNCLAIMED = 4096;

export class ProcessMonitor {
  private static instance: ProcessMonitor | undefined;

  /** The process-wide monitor (made a child subreaper on first use). */
  static get(): ProcessMonitor {
    ProcessMonitor.instance ??= new ProcessMonitor();
    return ProcessMonitor.instance;
  }

  /** Whether this process is a child subreaper (re-parented orphans come to us). */
  readonly subreaper: boolean;
  /** Why setting the subreaper bit failed, if it did. */
  readonly subreaperError: Error | undefined;

  private readonly keepUnclaimedMs: number;
  private readonly sweepGraceMs: number;
  /** Pids libuv owns (spawned here) → their exit, once known. */
  private readonly owned = new Map<number, Promise<ProcessExit>>();
  /** Watched re-parented pids → resolvers. */
  private readonly waiters = new Map<number, Array<{ resolve: (e: ProcessExit) => void; reject: (e: Error) => void }>>();
  /** Exits reaped before anyone asked. */
  private readonly unclaimed = new Map<number, ProcessExit>();
  /** Unwatched zombies seen by the last sweep (pid → when first seen). */
  private readonly zombiesSeen = new Map<number, number>();
  private readonly anyExit = new Set<(exit: ProcessExit) => void>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Unsubscribes the safety poll from the shared ticker; set while something is watched. */
  private stopPoll: (() => void) | undefined;
  private closed = false;
  private lookPending = false;
  private readonly onSigchld = (): void => {
    this.checkWatched();
    this.lookSoon();
  };

  constructor(options: ProcessMonitorOptions = {}) {
    this.keepUnclaimedMs = options.keepUnclaimedMs ?? 5 * 60_000;
    this.sweepGraceMs = options.sweepGraceMs ?? 200;
    let error: Error | undefined;
    if (options.subreaper ?? true) {
      try {
        setChildSubreaper(true);
      } catch (err) {
        error = err as Error;
      }
    }
    this.subreaperError = error;
    let bit = false;
    try {
      bit = isChildSubreaper();
    } catch {
      bit = false;
    }
    this.subreaper = bit;
    process.on('SIGCHLD', this.onSigchld);
  }

  /** Stops listening for SIGCHLD and cancels timers; pending waits stay pending. */
  close(): void {
    this.closed = true;
    process.removeListener('SIGCHLD', this.onSigchld);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.stopPoll?.();
    this.sweepTimer = undefined;
    this.stopPoll = undefined;
    if (ProcessMonitor.instance === this) ProcessMonitor.instance = undefined;
  }

  /** Observes every exit the monitor learns of a re-parented process; returns an unsubscribe function. */
  onAnyExit(listener: (exit: ProcessExit) => void): () => void {
    this.anyExit.add(listener);
    return () => this.anyExit.delete(listener);
  }

  /** Starts a command; libuv reaps it and its status arrives through `result`. */
  start(spec: CommandSpec): RunningCommand {
    let input = Buffer.isBuffer(spec.stdin) ? spec.stdin : undefined;
    // stdin bytes go through a real pipe: child_process's "pipe" is a socketpair, and runtimes
    // that open /dev/stdin (crun update --resources -) get ENXIO on a socket.
    let stdinPipe: number | undefined;
    if (input && input.length <= 65536) {
      const p = createPipe();
      try {
        let off = 0;
        while (off < input.length) off += writeSync(p.write, input, off);
      } finally {
        closeSync(p.write);
      }
      stdinPipe = p.read;
      input = undefined;
    }
    const stdio: StdioOptions = [
      stdinPipe ?? (input ? 'pipe' : typeof spec.stdin === 'number' ? spec.stdin : 'ignore'),
      spec.stdout === undefined || spec.stdout === 'capture' ? 'pipe' : spec.stdout === 'null' ? 'ignore' : spec.stdout,
      spec.stderr === undefined || spec.stderr === 'capture' ? 'pipe' : spec.stderr === 'null' ? 'ignore' : spec.stderr,
      ...(spec.inheritFds ?? []),
    ];
    let child: ChildProcess;
    try {
      const env = spec.env ?? process.env;
      // Spawn the absolute path (no $PATH walk in the child), keeping argv[0] as the caller named it.
      const file = spec.executable ?? resolveBinary(spec.binary, env['PATH']);
      child = spawn(file ?? spec.binary, [...spec.args], { stdio, env, cwd: spec.cwd, windowsHide: true, argv0: spec.binary });
      if (file !== undefined && spec.executable === undefined) child.once('error', () => forgetBinary(spec.binary));
    } finally {
      if (stdinPipe !== undefined) closeSync(stdinPipe); // the child has its own copy
    }
    const chunks: Buffer[] = [];
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const result = new Promise<CommandResult>((resolve, reject) => {
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let settled = false;
      let closeTimer: NodeJS.Timeout | undefined;
      const timer = spec.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, spec.timeoutMs)
        : undefined;
      const finish = (): void => {
        if (settled || !exit) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (closeTimer) clearTimeout(closeTimer);
        child.stdout?.destroy();
        child.stderr?.destroy();
        const signal = signalNumber(exit.signal);
        resolve({
          pid: child.pid ?? 0,
          exitStatus: signal !== undefined ? 128 + signal : (exit.code ?? 255),
          signal,
          output: Buffer.concat(chunks).toString('utf8'),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          timedOut,
        });
      };
      child.once('error', (e: NodeJS.ErrnoException) => {
        if (settled) return;
        if (child.pid === undefined) {
          settled = true;
          if (timer) clearTimeout(timer);
          reject(new SpawnError(spec.binary, e.code, e));
        }
      });
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        // Captured output is read to EOF, but the exit decides: a leaked pipe must not hang us.
        if (!child.stdout && !child.stderr) finish();
        else closeTimer = setTimeout(finish, 2000);
      });
      child.once('close', finish);
    });
    const collect = (stream: 'stdout' | 'stderr', into: Buffer[]) => (chunk: Buffer) => {
      chunks.push(chunk);
      into.push(chunk);
      spec.onOutput?.(chunk, stream);
    };
    child.stdout?.on('data', collect('stdout', out));
    child.stderr?.on('data', collect('stderr', err));
    if (input && child.stdin) {
      child.stdin.on('error', () => undefined); // EPIPE when the command exits without reading
      child.stdin.end(input);
    }
    const pid = child.pid;
    if (pid !== undefined) {
      const exitPromise = result.then(
        (r) => ({ pid, exitStatus: r.exitStatus, signal: r.signal, exitedAt: new Date() }),
        () => ({ pid, exitStatus: 255, signal: undefined, exitedAt: new Date() }),
      );
      this.owned.set(pid, exitPromise);
      void exitPromise.finally(() => this.owned.delete(pid));
    }
    // Avoid an unhandled rejection when the caller only looks at `pid` and kills.
    result.catch(() => undefined);
    return { pid: pid ?? 0, child, result, kill: (signal: NodeJS.Signals = 'SIGKILL') => void child.kill(signal) };
  }

  /** Runs a command to completion. Rejects only when it could not be started (SpawnError). */
  run(spec: CommandSpec): Promise<CommandResult> {
    try {
      if (fastSpawnFits(spec)) {
        // posix_spawn: no fork of this (large) process per runtime call; see fast-spawn.ts.
        const file = spec.executable ?? resolveBinary(spec.binary, (spec.env ?? process.env)['PATH']);
        if (file !== undefined) {
          try {
            const result = fastRun(spec, file, (pid) => this.waitForExit(pid));
            if (result) return result;
          } catch (err) {
            if (!(err instanceof FastSpawnError)) throw err;
            if (spec.executable === undefined) forgetBinary(spec.binary);
            return Promise.reject(new SpawnError(spec.binary, err.code, err));
          }
        }
      }
      return this.start(spec).result;
    } catch (err) {
      return Promise.reject(new SpawnError(spec.binary, (err as NodeJS.ErrnoException).code, err));
    }
  }

  /**
   * Resolves with the exit of `pid`. Works before the pid is known to have started or after it
   * already exited (its exit is kept for a while). Rejects when `pid` is not our child and no exit
   * was recorded for it: then its status cannot be collected (e.g. we are not a subreaper).
   */
  waitForExit(pid: number): Promise<ProcessExit> {
    if (!Number.isSafeInteger(pid) || pid <= 0) return Promise.reject(new RangeError(`waitForExit: invalid pid ${pid}`));
    const own = this.owned.get(pid);
    if (own) return own;
    const kept = this.unclaimed.get(pid);
    if (kept) {
      this.unclaimed.delete(pid);
      return Promise.resolve(kept);
    }
    return new Promise<ProcessExit>((resolve, reject) => {
      const list = this.waiters.get(pid) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(pid, list);
      this.checkPid(pid);
      this.armPoll();
    });
  }

  /** Pids being watched now (for diagnostics and tests). */
  get watchedPids(): number[] {
    return [...this.waiters.keys()];
  }

  /** Exits kept for pids nobody has asked about yet. */
  get unclaimedExits(): ProcessExit[] {
    return [...this.unclaimed.values()];
  }

  private armPoll(): void {
    // A safety net besides SIGCHLD: cheap, and only while something is watched. It keeps the
    // program alive on purpose: a pending waitForExit does, like a child process does.
    if (this.stopPoll || this.closed) return;
    this.stopPoll = everySecond(() => {
      this.checkWatched();
      if (this.waiters.size === 0 && this.stopPoll) {
        this.stopPoll();
        this.stopPoll = undefined;
      }
    }, { keepAlive: true });
  }

  private checkWatched(): void {
    for (const pid of [...this.waiters.keys()]) this.checkPid(pid);
  }

  private checkPid(pid: number): void {
    let status: WaitStatus | undefined;
    try {
      status = reapPid(pid);
    } catch (err) {
      const list = this.waiters.get(pid) ?? [];
      this.waiters.delete(pid);
      const why = (err as { code?: string }).code === 'ECHILD'
        ? `pid ${pid} is not a child of this process${this.subreaper ? '' : ' (not a child subreaper)'}; its exit status cannot be collected`
        : `waiting for pid ${pid}: ${(err as Error).message}`;
      for (const w of list) w.reject(Object.assign(new Error(why), { cause: err }));
      return;
    }
    if (status) this.deliver({ pid, exitStatus: status.exitStatus, signal: status.signal, exitedAt: new Date() });
  }

  private deliver(exit: ProcessExit): void {
    const list = this.waiters.get(exit.pid);
    this.zombiesSeen.delete(exit.pid);
    if (list) {
      this.waiters.delete(exit.pid);
      for (const w of list) w.resolve(exit);
    } else {
      this.keep(exit);
    }
    for (const l of this.anyExit) {
      try {
        l(exit);
      } catch {
        // a listener's failure must not stop exit delivery
      }
    }
  }

  private keep(exit: ProcessExit): void {
    const now = Date.now();
    for (const [pid, e] of this.unclaimed) {
      if (now - e.exitedAt.getTime() > this.keepUnclaimedMs || this.unclaimed.size >= MAX_UNCLAIMED) this.unclaimed.delete(pid);
      else break; // insertion order is time order
    }
    this.unclaimed.set(exit.pid, exit);
  }

  /**
   * After a SIGCHLD: one sweep pass in the check phase of this loop turn, when libuv has reaped its
   * own children and the exits just delivered have let their waiters register what they learnt
   * (an exec's pid, read from its pid file once runc exited). The timed second pass is armed only
   * if that pass saw an unwatched zombie, so an exec no longer wakes the daemon 200 ms later for a
   * sweep that finds nothing (each wake-up costs ≈ 0.2 ms of CPU here, docs/benchmarks.md round 11).
   */
  private lookSoon(): void {
    if (this.lookPending || this.closed) return;
    this.lookPending = true;
    setImmediate(() => {
      this.lookPending = false;
      if (!this.closed) this.sweep();
    });
  }

  private scheduleSweep(): void {
    if (this.sweepTimer || this.closed) return;
    this.sweepTimer = setTimeout(() => {
      // setImmediate runs after a poll phase, in which libuv handles any SIGCHLD still pending.
      setImmediate(() => {
        this.sweepTimer = undefined;
        this.sweep();
      });
    }, this.sweepGraceMs);
    this.sweepTimer.unref();
  }

  private sweep(): void {
    const now = Date.now();
    let pending = false;
    const current = new Set<number>();
    for (const pid of childPids()) {
      if (this.owned.has(pid) || this.waiters.has(pid)) continue;
      if (!isZombie(pid)) continue;
      current.add(pid);
      const first = this.zombiesSeen.get(pid);
      if (first === undefined) {
        this.zombiesSeen.set(pid, now);
        pending = true;
      } else if (now - first >= this.sweepGraceMs) {
        this.zombiesSeen.delete(pid);
        try {
          const status = reapPid(pid);
          if (status) this.deliver({ pid, exitStatus: status.exitStatus, signal: status.signal, exitedAt: new Date() });
        } catch {
          // someone else reaped it in the meantime
        }
      } else pending = true;
    }
    for (const pid of this.zombiesSeen.keys()) if (!current.has(pid)) this.zombiesSeen.delete(pid);
    if (pending) this.scheduleSweep();
  }
}

/**
 * Our children's pids that the sweep may find unwatched: from the main thread's
 * /proc/self/task/<pid>/children (or a /proc scan when that file is unavailable).
 *
 * One thread's file is enough. An orphan is re-parented to the first live thread of the subreaper's
 * thread group, which in Node is the main thread (it lives as long as the process); the children
 * other threads create (a worker's child_process) are their libuv's to reap. Reading every
 * thread's file cost ≈ 0.3 ms per sweep in an eleven-thread daemon, once after every exec.
 */
export function childPids(): number[] {
  try {
    const text = readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8');
    const pids: number[] = [];
    for (const p of text.split(' ')) if (p.trim()) pids.push(Number(p));
    return pids;
  } catch {
    // no CONFIG_PROC_CHILDREN: scan /proc
  }
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat && stat.ppid === process.pid) pids.push(Number(name));
  }
  return pids;
}

function readStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  return readStat(pid)?.state === 'Z';
}
