/**
 * The daemon's log, in the logrus text format containerd's own shims write into the bundle's `log`
 * fifo (`time="…" level=info msg="…" key=value`). Writes are synchronous and best effort: while
 * containerd restarts the fifo has no reader and writes fail with EPIPE/EAGAIN; those lines are lost
 * rather than blocking or crashing the shim.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../process/index.js';

/** logrus level names (logrus writes `warning`, not `warn`). */
export type Level = 'debug' | 'info' | 'warning' | 'error';

/** logrus quotes a value unless every character is one of these (its `needsQuoting`). */
function quote(value: string): string {
  return /^[A-Za-z0-9\-._/@^+]*$/.test(value) ? value : JSON.stringify(value);
}

/**
 * The current time in nanoseconds since the epoch, as precise as the process clock allows
 * (Date has only milliseconds; the reference's lines carry nanoseconds).
 */
function nowNanos(): bigint {
  const ms = performance.timeOrigin + performance.now();
  return BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.floor((ms % 1) * 1e6));
}

/** RFC 3339 in UTC with exactly nine fractional digits, the shims' `RFC3339NanoFixed` layout. */
export function formatTimestamp(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n);
  const whole = new Date(ms).toISOString().slice(0, 19);
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return `${whole}.${fraction}Z`;
}

/**
 * Formats one line the way logrus' text formatter does without colours: `time`, `level`, `msg`,
 * then the fields sorted by key, each value quoted only when logrus would quote it.
 * @param now the time of the line (default: now, with the clock's full precision)
 */
export function formatLogLine(level: Level, message: string, fields: Record<string, unknown>, now?: Date): string {
  const time = formatTimestamp(now ? BigInt(now.getTime()) * 1_000_000n : nowNanos());
  let line = `time=${quote(time)} level=${level} msg=${quote(message)}`;
  for (const key of Object.keys(fields).sort()) {
    const value = fields[key];
    if (value === undefined) continue;
    line += ` ${key}=${quote(typeof value === 'string' ? value : value instanceof Error ? value.message : JSON.stringify(value))}`;
  }
  return line + '\n';
}

/** The four levels over one `write`; debug lines only with -debug. */
abstract class LevelLogger implements Logger {
  protected constructor(protected readonly debugEnabled: boolean) {}

  protected abstract write(level: Level, message: string, fields?: Record<string, unknown>): void;

  debug(message: string, fields?: Record<string, unknown>): void {
    if (this.debugEnabled) this.write('debug', message, fields);
  }

  info(message: string, fields?: Record<string, unknown>): void {
    this.write('info', message, fields);
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.write('warning', message, fields);
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.write('error', message, fields);
  }
}

/** A logger writing logrus-style lines to a file descriptor. */
export class FdLogger extends LevelLogger {
  private fd: number;

  /** `owned`: the logger opened `fd` and closes it in `close()`. */
  constructor(
    fd: number,
    debugEnabled: boolean,
    private readonly baseFields: Record<string, unknown> = {},
    private readonly owned = false,
  ) {
    super(debugEnabled);
    this.fd = fd;
  }

  protected write(level: Level, message: string, fields?: Record<string, unknown>): void {
    if (this.fd >= 0) this.writeLine(formatLogLine(level, message, { ...this.baseFields, ...fields }));
  }

  /** Whether `close()` has not been called yet. */
  get open(): boolean {
    return this.fd >= 0;
  }

  /** Writes one formatted line as it is; false when closed or the write failed (the line is dropped). */
  writeLine(line: string): boolean {
    if (this.fd < 0) return false;
    try {
      writeSync(this.fd, line);
      return true;
    } catch {
      // No reader on the log fifo (containerd restarting), or it is full: drop the line.
      return false;
    }
  }

  /** Stops writing; closes the fd when this logger opened it. Idempotent. */
  close(): void {
    if (this.owned && this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    this.fd = -1;
  }
}

/**
 * The daemon's own log (lines about no one task: start-up, signals, ttrpc trouble, uncaught
 * errors). Its stderr is the `log` fifo of the bundle whose `start` spawned it, and containerd stops
 * reading that fifo once that container is deleted, while a shared daemon lives on. So its lines
 * go to the log fifo of the newest task still here (containerd shows them under that task's shim,
 * with our own namespace/pid fields, not the task's id), and to stderr only when no task is left.
 */
export class DaemonLogger extends LevelLogger {
  private readonly stderr: FdLogger;
  /** Container loggers in Create order; closed ones are pruned as they are met. */
  private routes: FdLogger[] = [];

  constructor(
    debugEnabled: boolean,
    private readonly baseFields: Record<string, unknown>,
  ) {
    super(debugEnabled);
    // Only its writeLine is used: lines arrive formatted, with this logger's fields.
    this.stderr = new FdLogger(2, debugEnabled);
  }

  /** A task's log fifo opened: the daemon's lines go there from now on, while it stays open. */
  follow(container: FdLogger): void {
    this.routes = this.routes.filter((r) => r.open);
    if (container.open) this.routes.push(container);
  }

  protected write(level: Level, message: string, fields?: Record<string, unknown>): void {
    const line = formatLogLine(level, message, { ...this.baseFields, ...fields });
    for (;;) {
      const newest = this.routes[this.routes.length - 1];
      if (newest === undefined) {
        this.stderr.writeLine(line);
        return;
      }
      // A route that is open but refused the line (fifo full, no reader) drops it, as FdLogger does.
      if (newest.open) {
        newest.writeLine(line);
        return;
      }
      this.routes.pop();
    }
  }
}

/** A logger on one container's `log` fifo; `close()` releases the fifo at Delete. */
export type ContainerLogger = FdLogger;

/**
 * Opens `<bundle>/log` for writing. containerd holds its reading end open, so the non-blocking
 * open succeeds at once; without a reader (started by hand) the daemon's stderr is used.
 */
export function containerLogger(bundle: string, debug: boolean, fields: Record<string, unknown>): ContainerLogger {
  // Every line says which shim wrote it, as the reference's `runtime=io.containerd.runc.v2` does.
  const all = { runtime: RUNTIME_NAME, ...fields };
  try {
    const fd = openSync(path.join(bundle, 'log'), constants.O_WRONLY | constants.O_NONBLOCK);
    return new FdLogger(fd, debug, all, true);
  } catch {
    return new FdLogger(2, debug, all, false);
  }
}

/** The runtime name containerd knows this shim by, the `runtime` field of every log line. */
export const RUNTIME_NAME = 'io.containerd.ts.v2';
