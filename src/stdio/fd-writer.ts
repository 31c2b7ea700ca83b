/**
 * A Writable over the non-blocking write end of a pipe or fifo that makes its libuv handle only
 * when it needs one.
 *
 * Most of what an exec writes is nothing or a few lines (stderr of `ctr task exec … ls` is
 * usually empty), and a `net.Socket` costs ≈ 0.2 ms to make after an idle spell (0.02 ms for a
 * write(2)). So every chunk goes straight to the fd with write(2); only a write that would block
 * (EAGAIN, also after a partial write) hands its rest to the libuv handle, made then (once), which
 * waits for room; the next chunk comes only after that, so the order holds. Bulk output thus costs
 * one write(2) per chunk and a handle's wait only when the pipe is full (and lets `pump` splice
 * the rest of each wake-up, since nothing stays queued in user space). Without a handle, the end
 * closes the fd at once instead of asking libuv to shut down a pipe (which pipes refuse, a loop
 * turn later).
 */
import { writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { closeFd } from './fd.js';

export class FdWriter extends Writable {
  /** The fd; written directly even once the handle exists (which then owns and closes it). */
  private readonly fd: number;
  private socket: Socket | undefined;
  private fdClosed = false;

  /** @param fd a non-blocking pipe or fifo write end, owned from now on */
  constructor(fd: number) {
    super();
    this.fd = fd;
  }

  /** Whether the libuv handle exists (tests, diagnostics). */
  get hasHandle(): boolean {
    return this.socket !== undefined;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // The Writable calls this one chunk at a time, only after the previous one's callback: the
    // handle (if any) has nothing queued now, so writing the fd directly keeps the order.
    const fd = this.fd;
    let written = 0;
    try {
      while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written);
      callback();
      return;
    } catch (err) {
      // EPIPE and the like end the stream as a failed write does; only "would block" waits.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
        callback(err as Error);
        return;
      }
    }
    // The pipe is full: the handle waits for room and writes the rest; later chunks go straight
    // to the fd again, and back through the handle whenever the pipe is full.
    this.handle().write(written === 0 ? chunk : chunk.subarray(written), (err) => callback(err));
  }

  override _final(callback: (error?: Error | null) => void): void {
    const socket = this.socket;
    if (!socket) {
      this.closeOwnFd();
      callback();
      return;
    }
    // A pipe refuses libuv's shutdown; the handle's close after it is what matters.
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      callback();
    };
    socket.once('close', done);
    socket.end(done);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.socket) this.socket.destroy();
    else this.closeOwnFd();
    callback(error);
  }

  /** Made once, at the first write that would block; from then on it owns (and closes) the fd. */
  private handle(): Socket {
    if (this.socket) return this.socket;
    const socket = new Socket({ fd: this.fd, readable: false, writable: true });
    // A failing handle fails this stream (its pending write's callback reports the error too).
    socket.on('error', (err) => this.destroy(err));
    this.socket = socket;
    return socket;
  }

  // Closed exactly once: a second close could hit an fd number already reused elsewhere.
  private closeOwnFd(): void {
    if (this.fdClosed) return;
    this.fdClosed = true;
    closeFd(this.fd);
  }
}
