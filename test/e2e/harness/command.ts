// Runs a host command to completion with a deadline and captures everything it printed, so a
// hung ctr or runtime turns into a readable test failure instead of a stuck suite.
import { spawn } from 'node:child_process';

/** What a finished (or timed-out) command left behind. */
export interface CommandResult {
  /** The argv that ran, for failure messages. */
  readonly argv: readonly string[];
  /** Exit code, or null when the process was ended by a signal. */
  readonly code: number | null;
  /** The signal that ended the process, if any. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** True when the deadline passed and the harness killed the process. */
  readonly timedOut: boolean;
  /** Wall time in milliseconds. */
  readonly durationMs: number;
}

/** Options for {@link runCommand}. */
export interface CommandOptions {
  /** Bytes written to stdin, which is then closed; without it stdin is /dev/null. */
  readonly input?: Buffer | string;
  /** Deadline in milliseconds (default 30 s); the process is killed with SIGKILL after it. */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * Stdin is closed only after this settles (input is written at once). ctr sets up its CloseIO
   * on EOF only once the task exists; an EOF before that is lost and the container never sees it.
   */
  readonly endInputAfter?: Promise<unknown>;
  /** Called with the pid as soon as the process exists (for callers that signal it). */
  readonly onSpawn?: (pid: number) => void;
}

/** Runs `argv[0]` with the rest as arguments and resolves when it has exited and its pipes closed. */
export function runCommand(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const started = Date.now();
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runCommand: empty argv');
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }, options.timeoutMs ?? 30_000);
    let spawnError: Error | undefined;
    child.on('error', (e) => { spawnError = e; });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    if (options.input !== undefined) {
      // EPIPE when the command does not read its stdin is not the command's failure.
      child.stdin!.on('error', () => undefined);
      if (options.endInputAfter === undefined) child.stdin!.end(options.input);
      else {
        child.stdin!.write(options.input);
        void options.endInputAfter.catch(() => undefined).then(() => child.stdin!.end());
      }
    }
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err);
      resolve({
        argv,
        code: spawnError !== undefined ? 127 : code,
        signal,
        stdout: Buffer.concat(out),
        stderr: spawnError !== undefined ? Buffer.concat([stderr, Buffer.from(String(spawnError))]) : stderr,
        timedOut,
        durationMs: Date.now() - started,
      });
    });
  });
}

/** One-line description of a result for assertion messages. */
export function describeResult(r: CommandResult): string {
  const status = r.timedOut ? 'timed out' : r.signal !== null ? `signal ${r.signal}` : `exit ${String(r.code)}`;
  return `${r.argv.join(' ')} → ${status}; stdout=${JSON.stringify(r.stdout.toString('utf8').slice(0, 2000))} ` +
    `stderr=${JSON.stringify(r.stderr.toString('utf8').slice(0, 2000))}`;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
