/**
 * Terminal stdio of one process: the pty master (received by the process layer from the runtime's
 * console socket) copied to the client's stdout fifo, and the stdin fifo copied into it.
 *
 * End of output follows the reference: the stream ends only after the process's exit was recorded
 * (`processExited()`) and the master has nothing left to read. EIO on the master means every slave
 * fd is closed; libuv then closes the handle, so nothing more can arrive either.
 */
import { ReadStream } from 'node:tty';
import type { Socket } from 'node:net';
import { bytesReadable, isTerminal, setWindowSize } from '../sys/tty.js';
import { BinaryLogger } from './binary-logger.js';
import { fifoPath, stdioMode, type StdioConfig, type StdioOptions } from './config.js';
import { OutputSink, pump, readPipe } from './copy.js';
import { StdioError, messageOf } from './errors.js';
import { OwnedFds } from './fd-set.js';
import { DEFAULT_OPEN_TIMEOUT_MS, openOutput, openStdin } from './fifo-open.js';
import { containerPipe, drainedWithin } from './pipe-io.js';
import type { PipeFds } from '../sys/pipes.js';

const DEFAULT_LOGGER_STOP_MS = 12_000;
/** How often the master is checked for unread bytes once the process has exited. */
const DRAIN_POLL_MS = 10;

/** Terminal stdio: create before the runtime command, `attach()` the master after it. */
export class ConsoleIO {
  private readonly fds = new OwnedFds();
  private readonly streams = new Set<Socket>();
  private readonly sinks: OutputSink[] = [];
  private readonly abort = new AbortController();
  private readonly stopOutput = new AbortController();
  private loggerPipe: PipeFds | undefined;
  private logger: BinaryLogger | undefined;
  private console: ReadStream | undefined;
  private master: number | undefined;
  private stdinWriter: number | undefined;
  private stdinClosed = false;
  private drain: Promise<void> | undefined;
  private exited = false;
  private markExited!: () => void;
  private readonly exitSeen = new Promise<void>((resolve) => {
    this.markExited = resolve;
  });
  private poll: NodeJS.Timeout | undefined;
  private disposing: Promise<void> | undefined;

  private constructor(
    /** The values the client sent. */
    readonly config: StdioConfig,
    private readonly options: StdioOptions,
  ) {}

  /**
   * Validates `config` (stdout must be a fifo or `binary://`; `file://` is not supported with a
   * terminal, as in the reference) and starts a logging binary if one is asked for.
   */
  static async create(config: StdioConfig, options: StdioOptions): Promise<ConsoleIO> {
    const mode = stdioMode(config);
    if (mode.kind === 'file') throw new StdioError('unknown', `file:// logging is not supported with a terminal: ${config.stdout}`);
    if (config.stdout === '') throw new StdioError('unknown', 'a terminal needs a stdout: containerd-shim: opening w/o fifo "" failed: no such file or directory');
    const io = new ConsoleIO(config, options);
    if (mode.kind === 'binary') {
      try {
        // fd 3 gets the pty output through this pipe; fd 4 is an unused stderr pipe (as the reference).
        const out = containerPipe(io.fds, 'read', options, 'stdout');
        const err = containerPipe(io.fds, 'read', options, 'stderr');
        io.loggerPipe = out;
        io.logger = await BinaryLogger.start({
          path: mode.path,
          args: mode.args,
          containerId: options.containerId,
          namespace: options.namespace,
          ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
          stdoutFd: out.read,
          stderrFd: err.read,
        });
        io.fds.close(out.read);
        io.fds.close(err.read);
      } catch (err) {
        await io.dispose();
        throw err;
      }
    }
    return io;
  }

  /**
   * Takes ownership of the pty master and starts copying: master → stdout (after opening the
   * client's fifo, waiting up to 30 s for its reader) and stdin fifo → master. Call once.
   */
  async attach(masterFd: number): Promise<void> {
    if (this.master !== undefined || this.disposing) throw new StdioError('invalid-argument', 'console already attached or disposed');
    this.master = this.fds.own(masterFd);
    if (!isTerminal(masterFd)) throw new StdioError('unknown', `console master fd ${masterFd} is not a terminal`);
    let sink: OutputSink;
    if (this.loggerPipe) {
      sink = OutputSink.forPipe(this.fds.take(this.loggerPipe.write));
    } else {
      const target = await openOutput(fifoPath(this.config.stdout), this.options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS, this.abort.signal);
      sink = OutputSink.forTarget(target);
    }
    this.sinks.push(sink);
    if (this.disposing) throw new StdioError('canceled', 'stdio disposed');
    let console: ReadStream;
    try {
      console = new ReadStream(this.fds.take(masterFd));
    } catch (err) {
      throw new StdioError('unknown', `failed to open console master: ${messageOf(err)}`, { cause: err });
    }
    console.on('error', () => undefined);
    console.once('close', () => {
      this.master = undefined;
    });
    this.console = console;
    this.streams.add(console);
    sink.acquire();
    // The client gets EOF only once the exit was recorded, even when EIO came first.
    this.drain = pump(console, sink.stream, this.stopOutput.signal)
      .then(() => this.exitSeen)
      .then(() => sink.release());
    if (this.config.stdin !== '') this.startStdin(console);
    if (this.exited) this.startDrainPoll();
  }

  private startStdin(console: ReadStream): void {
    const fifo = openStdin(fifoPath(this.config.stdin), !this.stdinClosed);
    this.fds.own(fifo.reader);
    if (fifo.writer !== undefined) this.stdinWriter = this.fds.own(fifo.writer);
    const source = readPipe(this.fds.take(fifo.reader));
    this.streams.add(source);
    // At stdin EOF the reference closes the master: the terminal hangs up (SIGHUP to the session).
    void pump(source, console).then(() => {
      source.destroy();
      console.destroy();
    });
  }

  /**
   * The process exited: once the master has no unread bytes (or is hung up) the output copy ends
   * and the client's fifo is closed.
   */
  processExited(): void {
    if (this.exited) return;
    this.exited = true;
    this.markExited();
    if (this.console) this.startDrainPoll();
  }

  private startDrainPoll(): void {
    let idle = 0;
    this.poll = setInterval(() => {
      const console = this.console;
      if (!console || console.destroyed || this.master === undefined) return this.stopPoll();
      let pending = 0;
      try {
        pending = bytesReadable(this.master);
      } catch {
        pending = 0;
      }
      // Two quiet checks in a row: bytes a slave wrote just before exiting may still be in the
      // tty layer's flip buffer for a moment before FIONREAD counts them.
      idle = pending === 0 && !console.isPaused() ? idle + 1 : 0;
      if (idle >= 2) {
        this.stopPoll();
        this.stopOutput.abort();
      }
    }, DRAIN_POLL_MS);
  }

  private stopPoll(): void {
    clearInterval(this.poll);
    this.poll = undefined;
  }

  /** ResizePty: width → columns, height → rows. A no-op before `attach()` or after hang-up. */
  resize(width: number, height: number): void {
    if (this.master === undefined) return;
    try {
      setWindowSize(this.master, { columns: width, rows: height });
    } catch (err) {
      throw new StdioError('unknown', `failed to resize console: ${messageOf(err)}`, { cause: err });
    }
  }

  /** Resolves when the output reached the client (true) or after `timeoutMs` (false). */
  waitDrained(timeoutMs: number): Promise<boolean> {
    return drainedWithin(this.drain ? [this.drain] : [], timeoutMs);
  }

  /**
   * CloseIO: closes the shim's stdin writer; once the client closed its writer too, the master is
   * closed and the terminal hangs up. Idempotent.
   */
  async closeStdin(): Promise<void> {
    this.stdinClosed = true;
    const fd = this.stdinWriter;
    this.stdinWriter = undefined;
    this.fds.close(fd);
  }

  /** Closes the master, stdin writer and fifos and stops a logging binary. Idempotent. */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      this.abort.abort();
      this.stopPoll();
      this.stdinWriter = undefined;
      this.markExited();
      for (const s of this.streams) s.destroy();
      for (const sink of this.sinks) sink.destroy();
      this.fds.closeAll();
      this.master = undefined;
      await this.logger?.stop(this.options.loggerStopTimeoutMs ?? DEFAULT_LOGGER_STOP_MS);
    })();
    return this.disposing;
  }
}
