// Shared pieces of the stdio integration tests: temp dirs with client fifos, a client reader that
// collects a fifo to EOF, a "container" (a child process on the runtime fds) and an fd count.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkfifo } from '../../../src/sys/pipes.js';

export interface Fifos {
  readonly dir: string;
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  cleanup(): void;
}

/** A private temp dir with `<id>-stdin|-stdout|-stderr` fifos, as containerd's client makes them. */
export function makeFifos(): Fifos {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stdio-test-'));
  const p = (n: string): string => path.join(dir, `c1-${n}`);
  for (const n of ['stdin', 'stdout', 'stderr']) mkfifo(p(n), 0o600);
  return { dir, stdin: p('stdin'), stdout: p('stdout'), stderr: p('stderr'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The client's reader of an output fifo: collects everything until EOF. */
export class FifoReader {
  readonly socket: Socket;
  private readonly chunks: Buffer[] = [];
  readonly ended: Promise<Buffer>;
  constructor(file: string) {
    this.socket = new Socket({ fd: openSync(file, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
    this.socket.on('data', (c: Buffer) => this.chunks.push(c));
    this.ended = new Promise((resolve, reject) => {
      this.socket.once('end', () => resolve(this.data()));
      this.socket.once('error', reject);
    });
  }
  data(): Buffer {
    return Buffer.concat(this.chunks);
  }
  close(): void {
    this.socket.destroy();
  }
}

/** The client's writer of the stdin fifo (opened after the shim's reader exists). */
export function openStdinWriter(file: string): Socket {
  return new Socket({ fd: openSync(file, constants.O_WRONLY | constants.O_NONBLOCK), readable: false, writable: true });
}

/** A stand-in for the container: `sh -c script` on the given fds (undefined → /dev/null). */
export function container(script: string, fds: { stdin?: number; stdout?: number; stderr?: number }): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn('/bin/sh', ['-c', script], { stdio: [fds.stdin ?? 'ignore', fds.stdout ?? 'ignore', fds.stderr ?? 'ignore'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited };
}

/** How many fds this process has open. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Rejects after `ms` with `what`, for bounding awaits in tests. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
