/**
 * Opening the client's fifos without blocking the event loop or a threadpool thread.
 *
 * The reference opens a stdout fifo O_WRONLY and blocks until the client has a reader (30 s cap).
 * A blocking open would pin a libuv threadpool thread, so we retry O_WRONLY|O_NONBLOCK, which fails
 * with ENXIO while no reader exists, until it succeeds or the deadline passes. The shim never
 * creates a fifo: a missing path is an error.
 */
import { constants, openSync, statSync } from 'node:fs';
import { StdioError, messageOf } from './errors.js';
import { closeFd } from './fd.js';

/** The reference's cap on waiting for the client's reader. */
export const DEFAULT_OPEN_TIMEOUT_MS = 30_000;

/** Where one output stream goes: a fifo (writer + keep-alive reader) or a regular file / device. */
export type OutputTarget =
  | { readonly kind: 'fifo'; readonly path: string; readonly writer: number; readonly keepAlive: number }
  | { readonly kind: 'file'; readonly path: string; readonly fd: number };

function isFifo(path: string): boolean | undefined {
  try {
    return statSync(path).isFIFO();
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Opens an output target. A fifo is opened for writing once the client reads it, plus a keep-alive
 * reader that is never read: while it exists our writes never fail with EPIPE when the client's
 * reader goes away — output waits in the fifo for a reader to come back, as in the reference.
 * Anything else is opened O_WRONLY|O_APPEND without O_CREAT.
 */
export async function openOutput(path: string, timeoutMs: number, signal?: AbortSignal): Promise<OutputTarget> {
  if (isFifo(path) !== true) {
    try {
      return { kind: 'file', path, fd: openSync(path, constants.O_WRONLY | constants.O_APPEND) };
    } catch (err) {
      throw new StdioError('unknown', `containerd-shim: opening file "${path}" failed: open ${path}: ${describe(err)}`, { cause: err });
    }
  }
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  let writer: number | undefined;
  for (;;) {
    if (signal?.aborted) throw new StdioError('canceled', `containerd-shim: opening w/o fifo "${path}" failed: context canceled`);
    try {
      writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') {
        throw new StdioError('unknown', `containerd-shim: opening w/o fifo "${path}" failed: ${describe(err)}`, { cause: err });
      }
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new StdioError('deadline-exceeded', `containerd-shim: opening w/o fifo "${path}" failed: context deadline exceeded`);
    await sleep(Math.min(delay, left), signal);
    delay = Math.min(delay * 2, 50);
  }
  try {
    const keepAlive = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    return { kind: 'fifo', path, writer, keepAlive };
  } catch (err) {
    closeFd(writer);
    throw new StdioError('unknown', `containerd-shim: opening r/o fifo "${path}" failed: ${describe(err)}`, { cause: err });
  }
}

/** The shim's two handles on a client's stdin fifo. */
export interface StdinFifo {
  /** Read by the copy loop. */
  readonly reader: number;
  /** Never written; held so the reader sees no EOF until CloseIO (the reference's stdin closer). */
  readonly writer: number | undefined;
}

/**
 * Opens the stdin fifo: the reader first (never blocks), then — unless CloseIO already came — our
 * own writer, which succeeds at once because a reader now exists.
 */
export function openStdin(path: string, withWriter: boolean): StdinFifo {
  if (isFifo(path) !== true) {
    throw new StdioError('unknown', `containerd-shim: opening ${path} failed: ${isFifo(path) === undefined ? 'no such file or directory' : 'not a fifo'}`);
  }
  let reader: number | undefined;
  try {
    reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = withWriter ? openSync(path, constants.O_WRONLY | constants.O_NONBLOCK) : undefined;
    return { reader, writer };
  } catch (err) {
    closeFd(reader);
    throw new StdioError('unknown', `containerd-shim: opening ${path} failed: ${describe(err)}`, { cause: err });
  }
}

/** Closes both fds of an output target. */
export function closeOutput(target: OutputTarget): void {
  if (target.kind === 'fifo') {
    closeFd(target.writer);
    closeFd(target.keepAlive);
  } else {
    closeFd(target.fd);
  }
}

/** "no such file or directory" for ENOENT and so on, like Go's error strings. */
function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'ENXIO') return 'no such device or address';
  return messageOf(err);
}
