/**
 * A Writable over the non-blocking write end of a pipe or fifo that makes its libuv handle only
 * when it needs one.
 *
 * Most of what an exec writes is nothing or a few lines (stderr of `ctr task exec … ls` is
 * usually empty), and a `net.Socket` costs ≈ 0.2 ms to make after an idle spell (0.02 ms for a
 * write(2)). So writes go straight to the fd with write(2) while the pipe has room; the first
 * one that would block (EAGAIN, or a partial write) makes the libuv handle, which then carries
 * that write's rest and everything after it, in order, and waits for room as any stream does.
 * Without a handle, the end closes the fd at once instead of asking libuv to shut down a pipe
 * (which pipes refuse, a loop turn later).
 */
import { writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { closeFd } from './fd.js';

export class FdWriter extends Writable {
  /** The fd, until the handle takes it over or we close it. */
  private fd: number | undefined;
  private socket: Socket | undefined;

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
    if (this.socket) {
      this.socket.write(chunk, (err) => callback(err));
      return;
    }
    let written = 0;
    try {
      while (written < chunk.length) written += writeSync(this.fd!, chunk, written, chunk.length - written);
      callback();
      return;
    } catch (err) {
      // EPIPE and the like end the stream as a failed write does; only "would block" waits.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
        callback(err as Error);
        return;
      }
    }
    const socket = this.handle();
    socket.write(written === 0 ? chunk : chunk.subarray(written), (err) => callback(err));
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

  private handle(): Socket {
    const socket = new Socket({ fd: this.fd!, readable: false, writable: true });
    this.fd = undefined; // the handle closes it now
    // A failing handle fails this stream (its pending write's callback reports the error too).
    socket.on('error', (err) => this.destroy(err));
    this.socket = socket;
    return socket;
  }

  // Closed exactly once: a second close could hit an fd number already reused elsewhere.
  private closeOwnFd(): void {
    const fd = this.fd;
    this.fd = undefined;
    closeFd(fd);
  }
}
