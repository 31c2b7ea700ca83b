/**
 * A `binary://` logging program: started with the container's output pipes as fds 3 and 4 and a
 * ready pipe as fd 5, as containerd documents for logging binaries. It is our child (libuv reaps
 * it by pid) and is stopped with SIGTERM, then SIGKILL, at dispose.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { StdioError, messageOf } from './errors.js';
import { readPipe } from './copy.js';
import { closeFd } from './fd.js';
import { createPipe } from '../sys/pipes.js';

/** How a logging binary is started. */
export interface BinaryLoggerSpec {
  /** Absolute path of the program (no PATH lookup: its environment has no PATH). */
  readonly path: string;
  readonly args: readonly string[];
  readonly containerId: string;
  readonly namespace: string;
  readonly cwd?: string;
  /** Read end the logger gets as fd 3 (stdout of the container). */
  readonly stdoutFd: number;
  /** Read end the logger gets as fd 4 (stderr of the container). */
  readonly stderrFd: number;
}

/** A running logging binary. */
export class BinaryLogger {
  private exited: Promise<void>;
  private hasExited = false;

  private constructor(private readonly child: ChildProcess) {
    // A failed kill() or spawn reports through 'error'; it must not be unhandled.
    child.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.hasExited = true;
        resolve();
      });
    });
  }

  /** The logger's pid. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Starts the program and waits until it is ready: it writes a byte to fd 5 or closes it (its
   * exit closes it too, so a logger that dies early does not hang Create).
   */
  static async start(spec: BinaryLoggerSpec): Promise<BinaryLogger> {
    const ready = createPipe();
    let child: ChildProcess;
    try {
      child = spawn(spec.path, [...spec.args], {
        env: { CONTAINER_ID: spec.containerId, CONTAINER_NAMESPACE: spec.namespace },
        ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
        stdio: ['ignore', 'ignore', 'ignore', spec.stdoutFd, spec.stderrFd, ready.write],
      });
    } catch (err) {
      closeFd(ready.read);
      closeFd(ready.write);
      throw new StdioError('unknown', `failed to start binary process: ${messageOf(err)}`, { cause: err });
    }
    closeFd(ready.write);
    const logger = new BinaryLogger(child);
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (err) {
      closeFd(ready.read);
      throw new StdioError('unknown', `failed to start binary process: ${messageOf(err)}`, { cause: err });
    }
    const readyPipe = readPipe(ready.read);
    await new Promise<void>((resolve) => {
      readyPipe.once('data', () => resolve());
      readyPipe.once('end', () => resolve());
      readyPipe.once('close', () => resolve());
      readyPipe.resume();
    });
    readyPipe.destroy();
    return logger;
  }

  /** SIGTERM, up to `timeoutMs` for the exit, then SIGKILL. Idempotent. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.hasExited) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut && !this.hasExited) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
