/**
 * Running a command with posix_spawn instead of child_process (ProcessMonitor.run's fast path).
 *
 * child_process forks the whole Node process, and the event loop waits until the child has
 * exec'd: 2–5 ms for a small Node, 14–25 ms at 88 MiB resident on a loaded 2-core host, paid on
 * every runtime call (an exec makes one `runc exec`). posix_spawn (clone with CLONE_VFORK) blocks
 * about 0.2 ms regardless of our size. The child is our own: the monitor reaps it by pid on
 * SIGCHLD like a re-parented process, and libuv never sees it.
 *
 * On by default; CONTAINERD_SHIM_TS_SPAWN=libuv in the shim's environment turns it off (every
 * command then goes through child_process). Measured (docs/benchmarks.md): a few ms less per
 * runtime call on the exec path, and no event-loop stall of 2–25 ms per call for every other task of
 * a shared daemon; the whole suite passed with it before it became the default.
 */
import { closeSync, openSync, writeSync, constants as fsConstants } from 'node:fs';
import { Socket } from 'node:net';
import { createPipe, posixSpawn, setNonBlocking, SysError } from '../sys/index.js';
import type { CommandResult, CommandSpec, ProcessExit } from './monitor.js';

/** Largest stdin Buffer written into a pipe before the spawn (a pipe holds 64 KiB unread). */
const MAX_PREWRITTEN_STDIN = 65536;
/** After the exit, how long captured output may still arrive before the result is given anyway. */
const CLOSE_GRACE_MS = 2000;

let disabled = process.env['CONTAINERD_SHIM_TS_SPAWN'] === 'libuv';

/** Whether the fast path is on and can take `spec` (else child_process runs it). */
export function fastSpawnFits(spec: CommandSpec): boolean {
  if (disabled) return false;
  return !Buffer.isBuffer(spec.stdin) || spec.stdin.length <= MAX_PREWRITTEN_STDIN;
}

/** A command that could not be executed (ENOENT, EACCES…): no child exists. */
export class FastSpawnError extends Error {
  override readonly name = 'FastSpawnError';
  constructor(
    readonly code: string,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/** `NAME=value` strings of frozen environments (which cannot change), by identity. */
const frozenEnvStrings = new WeakMap<NodeJS.ProcessEnv, string[]>();

function envStrings(env: NodeJS.ProcessEnv): string[] {
  const known = frozenEnvStrings.get(env);
  if (known) return known;
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out.push(`${k}=${v}`);
  if (Object.isFrozen(env)) frozenEnvStrings.set(env, out);
  return out;
}

/** Collects one captured stream until EOF; never emits 'error' upward. */
function capture(fd: number, onChunk: (b: Buffer) => void): { done: Promise<void>; socket: Socket } {
  setNonBlocking(fd, true);
  const socket = new Socket({ fd, readable: true, writable: false });
  const done = new Promise<void>((resolve) => {
    socket.on('data', onChunk);
    socket.once('close', () => resolve());
    socket.on('error', () => undefined);
  });
  return { done, socket };
}

/**
 * Runs `spec` (binary already resolved to `file`) and resolves with its result; `waitExit` is the
 * monitor's reaper for our direct children. Throws FastSpawnError when the program could not be
 * executed, or returns undefined when posix_spawn itself is unusable here (then the caller falls
 * back to child_process, and so does every later call).
 */
export function fastRun(spec: CommandSpec, file: string, waitExit: (pid: number) => Promise<ProcessExit>): Promise<CommandResult> | undefined {
  const temps: number[] = [];
  let nullFd: number | undefined;
  const devNull = (): number => {
    // libuv opens every fd close-on-exec.
    nullFd ??= openSync('/dev/null', fsConstants.O_RDWR);
    return nullFd;
  };
  const pipes: { read: number; stream: 'stdout' | 'stderr' }[] = [];
  const chunks: Buffer[] = [];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let pid: number;
  try {
    let stdin: number;
    if (Buffer.isBuffer(spec.stdin)) {
      const p = createPipe();
      temps.push(p.read);
      try {
        let off = 0;
        while (off < spec.stdin.length) off += writeSync(p.write, spec.stdin, off);
      } finally {
        closeSync(p.write);
      }
      stdin = p.read;
    } else stdin = typeof spec.stdin === 'number' ? spec.stdin : devNull();
    const output = (which: 'stdout' | 'stderr'): number => {
      const want = spec[which];
      if (typeof want === 'number') return want;
      if (want === 'null') return devNull();
      const p = createPipe();
      temps.push(p.write);
      pipes.push({ read: p.read, stream: which });
      return p.write;
    };
    const stdout = output('stdout');
    const stderr = output('stderr');
    try {
      pid = posixSpawn({
        file,
        argv: [spec.binary, ...spec.args],
        env: envStrings(spec.env ?? process.env),
        stdio: { stdin, stdout, stderr },
        ...(spec.inheritFds ? { inheritFds: spec.inheritFds } : {}),
        ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
      });
    } catch (e) {
      if (e instanceof SysError && e.call === 'posix_spawn') throw new FastSpawnError(e.code, e);
      if (e instanceof SysError) throw e;
      disabled = true; // koffi or the symbols are missing: child_process from now on
      return undefined;
    }
  } catch (e) {
    for (const p of pipes) closeSync(p.read);
    throw e;
  } finally {
    for (const fd of temps) closeSync(fd);
    if (nullFd !== undefined) closeSync(nullFd);
  }
  const captures = pipes.map((p) => capture(p.read, (chunk) => {
    chunks.push(chunk);
    (p.stream === 'stdout' ? out : err).push(chunk);
    spec.onOutput?.(chunk, p.stream);
  }));
  let exited = false;
  let timedOut = false;
  const timer = spec.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        // Only while unreaped: after the reap the pid may belong to someone else.
        if (!exited) process.kill(pid, 'SIGKILL');
      }, spec.timeoutMs)
    : undefined;
  return waitExit(pid).then(async (exit) => {
    exited = true;
    if (timer) clearTimeout(timer);
    if (captures.length > 0) {
      // Read to EOF, but the exit decides: a pipe leaked to a grandchild must not hang us.
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(captures.map((c) => c.done)),
        new Promise<void>((resolve) => {
          grace = setTimeout(resolve, CLOSE_GRACE_MS);
        }),
      ]);
      clearTimeout(grace);
      for (const c of captures) c.socket.destroy();
    }
    return {
      pid,
      exitStatus: exit.exitStatus,
      signal: exit.signal,
      output: Buffer.concat(chunks).toString('utf8'),
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      timedOut,
    };
  });
}

