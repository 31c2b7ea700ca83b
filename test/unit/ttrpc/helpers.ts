// Shared helpers of the ttrpc tests: temp socket paths, a raw frame-level peer, a probe service.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FrameReader, type FrameSink } from '../../../src/ttrpc/index.js';

/** A fresh directory for sockets; `cleanup` removes it. */
export function tempDir(): { dir: string; socket: (name?: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ttrpc-test-'));
  return { dir, socket: (name = 's.sock') => path.join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A received frame. */
export interface RawFrame {
  streamId: number;
  type: number;
  flags: number;
  body: Buffer;
  oversize?: number;
}

/** A peer speaking raw bytes: write anything, collect whole frames coming back. */
export class RawPeer implements FrameSink {
  readonly frames: RawFrame[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  private readonly reader = new FrameReader(this);
  closed = false;
  private closeWaiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.reader.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.closeWaiters.splice(0)) w();
      for (const w of this.waiters.splice(0)) w.resolve();
    });
  }

  static connect(socketPath: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(socketPath, () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  frame(streamId: number, type: number, flags: number, body: Buffer): void {
    this.frames.push({ streamId, type, flags, body: Buffer.from(body) });
    this.wake();
  }

  oversize(streamId: number, type: number, length: number): void {
    this.frames.push({ streamId, type, flags: 0, body: Buffer.alloc(0), oversize: length });
    this.wake();
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (this.frames.length >= w.n) w.resolve();
      return this.frames.length < w.n;
    });
  }

  write(bytes: Uint8Array | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'hex') : bytes);
  }

  /** Resolves once at least `n` frames arrived in total (or the socket closed), bounded by `ms`. */
  async waitFrames(n: number, ms = 5000): Promise<RawFrame[]> {
    if (this.frames.length < n && !this.closed) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${n} frames, have ${this.frames.length}`)), ms);
        this.waiters.push({ n, resolve: () => { clearTimeout(t); resolve(); } });
      });
    }
    return this.frames;
  }

  whenClosed(ms = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for close')), ms);
      this.closeWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Deterministic PRNG so a failure can be replayed from its seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
