/**
 * The copy loop between two streams, and the output side it writes into.
 *
 * Copying is passthrough of whatever chunks libuv reads (up to 64 KiB), with back-pressure:
 * when the destination's buffer is full the source stops reading, so a client that stops reading
 * eventually blocks the container in write(2), as with the reference. Every stream gets a
 * permanent 'error' listener: an fd going bad (EPIPE, EIO, a closed fifo) ends one copy and must
 * never take the shim down with an unhandled 'error' event.
 *
 * When both ends are pipes or fifos, the rest of what is waiting after each chunk moves with
 * splice(2), kernel to kernel: libuv gives no readiness callback without reading, so its 'data'
 * event is the wake-up, and the chunk it read goes first (see `pump`).
 */
import { createWriteStream } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { setPipeSize, splice } from '../sys/pipes.js';
import { closeFd } from './fd.js';
import { FdWriter } from './fd-writer.js';
import type { OutputTarget } from './fifo-open.js';
import { waitUntilRead, type ClientRead } from './client-read.js';

function ignore(): void {
  // errors end the copy through 'close'; see the module comment
}

/** Buffer asked for on the client's fifo: with 1 MiB, a burst of output costs fewer wake-ups on both sides. */
const FIFO_PIPE_BYTES = 1 << 20;

/** Grows a fifo's buffer (best effort: above /proc/sys/fs/pipe-max-size unprivileged, or not a pipe). */
function growPipe(fd: number): void {
  try {
    setPipeSize(fd, FIFO_PIPE_BYTES);
  } catch {
    // the default 64 KiB works too
  }
}

/** A non-blocking libuv pipe handle reading `fd` (which it now owns). */
export function readPipe(fd: number): Socket {
  const socket = new Socket({ fd, readable: true, writable: false });
  socket.on('error', ignore);
  return socket;
}

/** The fds under a pump's two streams, when both are pipes or fifos (so splice(2) can join them). */
export interface SpliceFds {
  /** The source's read end (owned by the source stream). */
  readonly from: number;
  /** The destination's write end (owned by the destination stream). */
  readonly to: number;
}

/** What one pump moved: bytes through user space (libuv reads and writes) and bytes spliced. */
export interface PumpResult {
  readonly copiedBytes: number;
  readonly splicedBytes: number;
}

/** Bytes asked of one splice(2): the size of our pipe buffers. */
const SPLICE_CHUNK = 1 << 20;
/** Bytes moved per wake-up at most, so one busy stream cannot hold the event loop (RPCs, exits). */
const SPLICE_BUDGET = 16 << 20;

/**
 * Copies `src` into `dst` until `src` ends, either side fails or `stop` fires, then resolves (never
 * rejects). Does not end `dst`: the caller decides, since one file may be shared by stdout and stderr.
 *
 * With `fds`, after each chunk that `dst` took at once, whatever more is waiting in `src` is
 * spliced straight into `dst` until either would block. Order is kept because the splice only
 * runs when neither stream holds bytes in user space (nothing buffered to emit, nothing queued to
 * write), and everything runs on this one thread. A splice error (say EINVAL from an O_APPEND
 * file, or EPIPE) moves nothing; it turns splicing off for this pump and the stream path carries
 * on (and reports a dead destination in its own way).
 */
export function pump(src: Readable, dst: Writable, stop?: AbortSignal, fds?: SpliceFds): Promise<PumpResult> {
  src.on('error', ignore);
  return new Promise((resolve) => {
    let done = false;
    /** Cleared for good by a splice error. */
    let zeroCopy = fds;
    const result = { copiedBytes: 0, splicedBytes: 0 };
    const spliceWaiting = (pair: SpliceFds): void => {
      let moved = 0;
      while (moved < SPLICE_BUDGET) {
        if (done || src.destroyed || dst.destroyed || src.readableLength > 0 || dst.writableLength > 0) return;
        let n: number;
        try {
          n = splice(pair.from, pair.to, SPLICE_CHUNK);
        } catch {
          zeroCopy = undefined;
          return;
        }
        // -1: one side would block (nothing left, or the destination is full: the next chunk's
        // write then waits for 'drain' as usual). 0: EOF, which libuv reports as 'end'.
        if (n <= 0) return;
        moved += n;
        result.splicedBytes += n;
      }
    };
    const onData = (chunk: Buffer): void => {
      result.copiedBytes += chunk.length;
      if (!dst.write(chunk)) {
        src.pause();
        dst.once('drain', onDrain);
        return;
      }
      if (zeroCopy) spliceWaiting(zeroCopy);
    };
    const onDrain = (): void => {
      src.resume();
    };
    const onDstGone = (): void => {
      // The destination cannot take more (EPIPE, closed): stop reading too.
      src.destroy();
      finish();
    };
    const finish = (): void => {
      if (done) return;
      done = true;
      src.off('data', onData);
      src.off('end', finish);
      src.off('close', finish);
      dst.off('drain', onDrain);
      dst.off('error', onDstGone);
      dst.off('close', onDstGone);
      stop?.removeEventListener('abort', onStop);
      resolve(result);
    };
    // Stopping leaves both streams open but paused: the caller owns what happens to them next.
    const onStop = (): void => {
      src.pause();
      finish();
    };
    if (stop?.aborted) return onStop();
    stop?.addEventListener('abort', onStop, { once: true });
    src.on('data', onData);
    src.once('end', finish);
    src.once('close', finish);
    dst.once('error', onDstGone);
    dst.once('close', onDstGone);
  });
}

/**
 * The shim's writer into one output target, shared by the copies that use it (stdout and stderr
 * sharing one file). The last `release()` flushes and closes it; `destroy()` cuts it off.
 */
export class OutputSink {
  private users = 0;
  private closing: Promise<void> | undefined;
  /** For debug logs: how the client's read of the fifo went at release (undefined before). */
  clientRead: ClientRead | undefined;

  private constructor(
    /** The stream the copies write into. */
    readonly stream: Writable,
    private keepAlive: number | undefined,
    /** The fd under `stream` when it is a pipe or fifo (a splice(2) destination), else undefined. */
    readonly pipeFd: number | undefined,
  ) {
    stream.on('error', ignore);
  }

  /** A sink for an opened target; takes ownership of its fds. */
  static forTarget(target: OutputTarget): OutputSink {
    if (target.kind === 'fifo') {
      growPipe(target.writer);
      return new OutputSink(new FdWriter(target.writer), target.keepAlive, target.writer);
    }
    // Regular files and devices cannot be libuv pipe handles; their writes go through the threadpool.
    return new OutputSink(createWriteStream('', { fd: target.fd, autoClose: true }), undefined, undefined);
  }

  /** A sink writing a pipe's write end (owned from now on). */
  static forPipe(fd: number): OutputSink {
    return new OutputSink(new FdWriter(fd), undefined, fd);
  }

  /** What `pump` needs to splice from the pipe read end `from` into this sink, if it can. */
  spliceFrom(from: number): SpliceFds | undefined {
    return this.pipeFd === undefined ? undefined : { from, to: this.pipeFd };
  }

  /** One more copy writes here. */
  acquire(): this {
    this.users++;
    return this;
  }

  /**
   * A copy finished; the last one flushes, closes the writer and then — once the client has read
   * the fifo empty (bounded; see client-read.ts) — the keep-alive reader.
   */
  release(): Promise<void> {
    this.users--;
    if (this.users > 0) return Promise.resolve();
    this.closing ??= new Promise<void>((resolve) => {
      const stream = this.stream;
      let flushed = false;
      const done = (): void => {
        if (flushed) return;
        flushed = true;
        stream.destroy();
        // Exits are announced after this resolves: a client whose fifo open is still pending then
        // cancels it and drops what it has not read (issue 7).
        void waitUntilRead(() => this.keepAlive).then((read) => {
          this.clientRead = read;
          this.closeKeepAlive();
          resolve();
        });
      };
      if (stream.destroyed || stream.writableEnded) return done();
      stream.once('close', done);
      stream.end(done);
    });
    return this.closing;
  }

  /** Drops unwritten data and closes everything now (dispose, or a drain that timed out). */
  destroy(): void {
    this.stream.destroy();
    this.closeKeepAlive();
    this.closing ??= Promise.resolve();
  }

  // Closed exactly once: a second close could hit an fd number already reused elsewhere.
  private closeKeepAlive(): void {
    const fd = this.keepAlive;
    this.keepAlive = undefined;
    closeFd(fd);
  }
}
