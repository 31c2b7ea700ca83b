/**
 * The `--console-socket` a runtime connects to when the process has a terminal: it sends the pty
 * master over SCM_RIGHTS (payload `/dev/ptmx` from runc, ` ` from crun, `pty-master` from runsc).
 *
 * Node's `net` cannot receive descriptors, so the accepted connection is read with recvmsg (sys).
 * The server pauses new connections (`pauseOnConnect`): otherwise libuv reads the message first
 * and the descriptor it carried is lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { closeFd, receiveMessage } from '../sys/index.js';

/** The descriptor a runtime sent, or why none came. */
export class ConsoleSocketError extends Error {
  override readonly name = 'ConsoleSocketError';
}

const POLL_MS = 5;

function socketFd(socket: net.Socket): number {
  // libuv's handle exposes the descriptor; this is not a documented API, hence the checks.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new ConsoleSocketError('console socket: cannot get the connection descriptor');
  return fd;
}

export class ConsoleSocket {
  private readonly received: Promise<number>;
  private closed = false;
  private masterTaken = false;

  private constructor(
    private readonly server: net.Server,
    private readonly dir: string,
    /** Absolute path of the listening socket, for `--console-socket`. */
    readonly path: string,
    received: Promise<number>,
    private readonly connections: Set<net.Socket>,
  ) {
    this.received = received;
    received.catch(() => undefined);
  }

  /** Listens on a fresh socket in a private temp dir (or under `parentDir`). */
  static async create(parentDir: string = os.tmpdir()): Promise<ConsoleSocket> {
    const dir = mkdtempSync(path.join(parentDir, 'pty-'));
    const sockPath = path.join(dir, 'pty.sock');
    let deliver!: (fd: number) => void;
    let fail!: (err: Error) => void;
    const received = new Promise<number>((resolve, reject) => {
      deliver = resolve;
      fail = reject;
    });
    let got = false;
    const connections = new Set<net.Socket>();
    const server = net.createServer({ pauseOnConnect: true }, (conn) => {
      connections.add(conn);
      conn.on('close', () => connections.delete(conn));
      conn.on('error', () => undefined);
      if (got) {
        conn.destroy();
        return;
      }
      let fd: number;
      try {
        fd = socketFd(conn);
      } catch (err) {
        conn.destroy();
        fail(err as Error);
        return;
      }
      const poll = (): void => {
        if (got) return;
        let message;
        try {
          message = receiveMessage(fd);
        } catch (err) {
          conn.destroy();
          fail(new ConsoleSocketError(`console socket: ${(err as Error).message}`));
          return;
        }
        if (!message) {
          setTimeout(poll, POLL_MS);
          return;
        }
        conn.destroy();
        const [first, ...extra] = message.fds;
        for (const e of extra) closeFd(e);
        if (first === undefined) {
          fail(new ConsoleSocketError(message.data.length === 0 ? 'console socket: connection closed before a descriptor was sent' : 'console socket: message carried no descriptor'));
          return;
        }
        got = true;
        deliver(first);
      };
      poll();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sockPath, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return new ConsoleSocket(server, dir, sockPath, received, connections);
  }

  /**
   * Resolves with the pty master fd (close-on-exec; the caller owns it) once the runtime sent it.
   * Rejects with ConsoleSocketError after `timeoutMs`.
   */
  async receiveMaster(timeoutMs = 10_000): Promise<number> {
    if (this.masterTaken) throw new ConsoleSocketError('console socket: master already received');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConsoleSocketError(`console socket: no pty master received within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const fd = await Promise.race([this.received, timeout]);
      this.masterTaken = true;
      return fd;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops listening and removes the socket's directory. A master not yet taken is closed. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const conn of this.connections) conn.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
    if (!this.masterTaken) {
      // A master that arrived but was never asked for would leak.
      const fd = await Promise.race([this.received, Promise.resolve(-1)]).catch(() => -1);
      if (fd >= 0) {
        this.masterTaken = true;
        closeFd(fd);
      }
    }
  }
}
