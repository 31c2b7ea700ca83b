/**
 * The stdio of one process (init or exec) across its life: prepared before the runtime command,
 * connected after it, closed at delete. Wraps the stdio layer's PipeIO/ConsoleIO and the runtime's
 * console socket so init and exec share one code path.
 */
import { ConsoleSocket } from '../runtime/index.js';
import { ConsoleIO, PipeIO, StdioError, type StdioConfig } from '../stdio/index.js';
import { ProcessError, type ErrorKind } from './errors.js';

export interface ProcessIOSettings {
  readonly containerId: string;
  readonly namespace: string;
  readonly bundle: string;
  readonly ioUid: number;
  readonly ioGid: number;
}

/** Maps a stdio-layer failure to its task API class, keeping the reference's message prefix. */
export function stdioFailure(prefix: string, err: unknown): ProcessError {
  if (err instanceof ProcessError) return err;
  const message = err instanceof Error ? err.message : String(err);
  let kind: ErrorKind = 'unknown';
  if (err instanceof StdioError) kind = err.kind;
  return new ProcessError(kind, `${prefix}: ${message}`, { cause: err });
}

/** How long an exit (and its Delete) waits for the output to reach the client: the reference's 2 s. */
export const DRAIN_ON_EXIT_MS = 2000;

/** Stdio prepared for a runtime command; `connect()` once the command succeeded. */
export class ProcessIO {
  private master: number | undefined;
  private disposed = false;
  private exitDrain: Promise<boolean> | undefined;

  private constructor(
    readonly config: StdioConfig,
    private readonly io: PipeIO | ConsoleIO,
    private readonly console: ConsoleSocket | undefined,
  ) {}

  /** Creates pipes (or the console socket) before the runtime command runs. */
  static async prepare(config: StdioConfig, settings: ProcessIOSettings, what: 'init' | 'exec'): Promise<ProcessIO> {
    const options = {
      containerId: settings.containerId,
      namespace: settings.namespace,
      ioUid: settings.ioUid,
      ioGid: settings.ioGid,
      cwd: settings.bundle,
    };
    const prefix = what === 'init' ? 'failed to create init process I/O' : 'failed to create exec process I/O';
    if (config.terminal) {
      let socket: ConsoleSocket | undefined;
      try {
        socket = await ConsoleSocket.create();
        const io = await ConsoleIO.create(config, options);
        return new ProcessIO(config, io, socket);
      } catch (err) {
        await socket?.close();
        throw stdioFailure(prefix, err);
      }
    }
    try {
      return new ProcessIO(config, await PipeIO.create(config, options), undefined);
    } catch (err) {
      throw stdioFailure(prefix, err);
    }
  }

  /** The console socket path for `--console-socket`, when this is a terminal process. */
  get consoleSocketPath(): string | undefined {
    return this.console?.path;
  }

  /** fds the runtime command gets as its stdio (undefined entries mean /dev/null). */
  get runtimeStdio(): { stdin?: number; stdout?: number; stderr?: number } {
    return this.io instanceof PipeIO ? this.io.runtimeStdio : {};
  }

  get terminal(): boolean {
    return this.io instanceof ConsoleIO;
  }

  /** After the runtime command succeeded: receive the pty master or open the client's fifos and start copying. */
  async connect(): Promise<void> {
    if (this.io instanceof ConsoleIO) {
      try {
        this.master = await this.console!.receiveMaster(10_000);
      } catch (err) {
        throw stdioFailure('failed to retrieve console master', err);
      } finally {
        await this.console!.close();
      }
      try {
        await this.io.attach(this.master);
      } catch (err) {
        throw stdioFailure('failed to start console copy', err);
      }
      return;
    }
    try {
      await this.io.start();
    } catch (err) {
      throw stdioFailure('failed to start io pipe copy', err);
    }
  }

  /**
   * Pipes only, before connect(): the output half of it, for a runtime that already holds the
   * container's ends but has not run the process yet; connect() then does the rest (stdin).
   * Resolves at once for a console, which exists only once the runtime ran.
   */
  async connectOutputs(): Promise<void> {
    if (this.io instanceof ConsoleIO) return;
    try {
      await this.io.startOutputs();
    } catch (err) {
      throw stdioFailure('failed to start io pipe copy', err);
    }
  }

  /** The process exited: a console drains and then gives the client EOF. */
  processExited(): void {
    if (this.io instanceof ConsoleIO) this.io.processExited();
  }

  /**
   * The one bounded wait for stdout/stderr to reach the client after the process exited: true
   * when they did, false when {@link DRAIN_ON_EXIT_MS} passed first. The exit's announcement and
   * Delete share it, so output held open by a leftover child (a background job that kept the exec's stdout)
   * delays the client by that bound once, as the reference's Delete does, not once per caller.
   */
  drainedAfterExit(): Promise<boolean> {
    this.exitDrain ??= this.io.waitDrained(DRAIN_ON_EXIT_MS).catch(() => false);
    return this.exitDrain;
  }

  resize(width: number, height: number): void {
    if (this.io instanceof ConsoleIO && this.master !== undefined) this.io.resize(width, height);
  }

  closeStdin(): Promise<void> {
    return this.io.closeStdin();
  }

  /** Idempotent: closes every fd, stops copies, terminates a logging binary. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.console?.close();
    await this.io.dispose();
  }
}
