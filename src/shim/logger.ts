/**
 * The daemon's log, in the logrus text format containerd's own shims write into the bundle's `log`
 * fifo (`time="…" level=info msg="…" key=value`). Writes are synchronous and best effort: while
 * containerd restarts the fifo has no reader and writes fail with EPIPE/EAGAIN; those lines are lost
 * rather than blocking or crashing the shim.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../process/index.js';

type Level = 'debug' | 'info' | 'warning' | 'error';

function quote(value: string): string {
  return /^[A-Za-z0-9_./:@-]+$/.test(value) ? value : JSON.stringify(value);
}

/** Formats one line the way logrus' text formatter does (without colours). */
export function formatLogLine(level: Level, message: string, fields: Record<string, unknown>, now = new Date()): string {
  let line = `time=${JSON.stringify(now.toISOString())} level=${level} msg=${JSON.stringify(message)}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    line += ` ${key}=${quote(typeof value === 'string' ? value : JSON.stringify(value))}`;
  }
  return line + '\n';
}

/** A logger writing logrus-style lines to a file descriptor. */
export class FdLogger implements Logger {
  private fd: number;

  /** `owned`: the logger opened `fd` and closes it in `close()`. */
  constructor(
    fd: number,
    private readonly debugEnabled: boolean,
    private readonly baseFields: Record<string, unknown> = {},
    private readonly owned = false,
  ) {
    this.fd = fd;
  }

  private write(level: Level, message: string, fields?: Record<string, unknown>): void {
    if (this.fd < 0) return;
    try {
      writeSync(this.fd, formatLogLine(level, message, { ...this.baseFields, ...fields }));
    } catch {
      // No reader on the log fifo (containerd restarting): drop the line.
    }
  }

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

/** A logger on one container's `log` fifo; `close()` releases the fifo at Delete. */
export type ContainerLogger = FdLogger;

/**
 * Opens `<bundle>/log` for writing. containerd holds its reading end open, so the non-blocking
 * open succeeds at once; without a reader (started by hand) the daemon's stderr is used.
 */
export function containerLogger(bundle: string, debug: boolean, fields: Record<string, unknown>): ContainerLogger {
  try {
    const fd = openSync(path.join(bundle, 'log'), constants.O_WRONLY | constants.O_NONBLOCK);
    return new FdLogger(fd, debug, fields, true);
  } catch {
    return new FdLogger(2, debug, fields, false);
  }
}
