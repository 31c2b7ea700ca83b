/**
 * Non-terminal stdio of one process: real pipes to the container, copies to the client's fifos,
 * a `file://` log, or a `binary://` logging program. See docs/stdio.md for the rules.
 */
import { closeSync, constants, fchownSync as fchownFd, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import type { Socket } from 'node:net';
import { createPipe, setNonBlocking, setPipeSize, type PipeFds } from '../sys/pipes.js';
import { BinaryLogger } from './binary-logger.js';
import { fifoPath, stdioMode, type StdioConfig, type StdioMode, type StdioOptions } from './config.js';
import { OutputSink, pump, readPipe } from './copy.js';
import { StdioError, messageOf } from './errors.js';
import { OwnedFds } from './fd-set.js';
import { DEFAULT_OPEN_TIMEOUT_MS, openOutput, openStdin, type OutputTarget } from './fifo-open.js';

/** fds for the runtime command's stdin/stdout/stderr; a missing entry means /dev/null. */
export interface RuntimeStdio {
  readonly stdin?: number;
  readonly stdout?: number;
  readonly stderr?: number;
}

/** Pipe buffer asked for on output pipes: fewer wake-ups per MiB than the default 64 KiB. */
const OUTPUT_PIPE_BYTES = 1 << 20;
const DEFAULT_LOGGER_STOP_MS = 12_000;

/**
 * A real pipe whose container side is owned by io_uid:io_gid and whose shim side is non-blocking
 * (each end is its own open file description, so the container's end stays blocking).
 */
export function containerPipe(fds: OwnedFds, containerSide: 'read' | 'write', options: StdioOptions, what: string): PipeFds {
  const pipe = createPipe();
  fds.own(pipe.read);
  fds.own(pipe.write);
  const container = containerSide === 'read' ? pipe.read : pipe.write;
  const shim = containerSide === 'read' ? pipe.write : pipe.read;
  try {
    setNonBlocking(shim, true);
    if (containerSide === 'write') {
      try {
        setPipeSize(shim, OUTPUT_PIPE_BYTES);
      } catch {
        // above /proc/sys/fs/pipe-max-size for an unprivileged shim: the default size works too
      }
    }
    fchown(container, options, what);
  } catch (err) {
    fds.close(pipe.read);
    fds.close(pipe.write);
    throw err;
  }
  return pipe;
}

function fchown(fd: number, options: StdioOptions, what: string): void {
  if (options.ioUid === undefined && options.ioGid === undefined) return;
  try {
    // -1 leaves that id unchanged, as with fchown(2).
    fchownFd(fd, options.ioUid ?? -1, options.ioGid ?? -1);
  } catch (err) {
    throw new StdioError('unknown', `failed to chown ${what}: ${messageOf(err)}`, { cause: err });
  }
}

/** Non-terminal stdio: create before the runtime command, `start()` after it succeeded. */
export class PipeIO {
  private readonly fds = new OwnedFds();
  private readonly streams = new Set<Socket>();
  private readonly sinks: OutputSink[] = [];
  private readonly drains: Promise<void>[] = [];
  private readonly abort = new AbortController();
  private stdinPipe: PipeFds | undefined;
  private stdoutPipe: PipeFds | undefined;
  private stderrPipe: PipeFds | undefined;
  private logger: BinaryLogger | undefined;
  private stdinWriter: number | undefined;
  private stdinClosed = false;
  private started: 'none' | 'outputs' | 'all' = 'none';
  private disposing: Promise<void> | undefined;

  private constructor(
    /** The values the client sent. */
    readonly config: StdioConfig,
    /** The mode they selected. */
    readonly mode: StdioMode,
    private readonly options: StdioOptions,
    private readonly stdoutPath: string,
    private readonly stderrPath: string,
  ) {}

  /**
   * Validates `config` and makes the pipes (and, for `binary://`, starts the logger and waits until
   * it is ready). Nothing of the client's is opened yet except a `file://` log.
   */
  static async create(config: StdioConfig, options: StdioOptions): Promise<PipeIO> {
    if (config.terminal) throw new StdioError('invalid-argument', 'PipeIO is for non-terminal processes');
    const mode = stdioMode(config);
    let stdout = '';
    let stderr = '';
    if (mode.kind === 'fifo') {
      stdout = fifoPath(config.stdout);
      stderr = fifoPath(config.stderr);
      // The reference accepts one of the two and fails after the runtime ran (leaking it): refuse now,
      // with its message.
      if ((stdout === '') !== (stderr === '')) {
        throw new StdioError('unknown', 'unable to copy pipes: containerd-shim: opening file "" failed: open : no such file or directory');
      }
    } else if (mode.kind === 'file') {
      createLogFile(mode.path);
      stdout = stderr = mode.path;
    }
    const io = new PipeIO(config, mode, options, stdout, stderr);
    try {
      await io.prepare();
    } catch (err) {
      await io.dispose();
      throw err;
    }
    return io;
  }

  private async prepare(): Promise<void> {
    const { mode, config, options } = this;
    if (mode.kind === 'null') return;
    if (mode.kind === 'binary') {
      this.stdoutPipe = containerPipe(this.fds, 'write', options, 'stdout');
      this.stderrPipe = containerPipe(this.fds, 'write', options, 'stderr');
      // The logger reads these ends blocking; they were made non-blocking for our own use only.
      setNonBlocking(this.stdoutPipe.read, false);
      setNonBlocking(this.stderrPipe.read, false);
      this.logger = await BinaryLogger.start({
        path: mode.path,
        args: mode.args,
        containerId: options.containerId,
        namespace: options.namespace,
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
        stdoutFd: this.stdoutPipe.read,
        stderrFd: this.stderrPipe.read,
      });
      return;
    }
    if (config.stdin !== '') this.stdinPipe = containerPipe(this.fds, 'read', options, 'stdin');
    if (this.stdoutPath !== '') this.stdoutPipe = containerPipe(this.fds, 'write', options, 'stdout');
    if (this.stderrPath !== '') this.stderrPipe = containerPipe(this.fds, 'write', options, 'stderr');
  }

  /** The fds to give the runtime command as its stdio (dup'ed by the spawn; ours close at `start()`). */
  get runtimeStdio(): RuntimeStdio {
    return {
      ...(this.stdinPipe ? { stdin: this.stdinPipe.read } : {}),
      ...(this.stdoutPipe ? { stdout: this.stdoutPipe.write } : {}),
      ...(this.stderrPipe ? { stderr: this.stderrPipe.write } : {}),
    };
  }

  /**
   * After the runtime command succeeded: drops the shim's copies of the container-side ends (so the
   * output pipes reach EOF when the container's last writer closes), opens the client's fifos —
   * waiting up to 30 s for its readers — and starts the copies. Call once (or after
   * {@link startOutputs}, which then leaves only stdin to do).
   */
  async start(): Promise<void> {
    if (this.started === 'all') throw new StdioError('invalid-argument', 'stdio already started');
    if (this.started === 'none') await this.startOutputs();
    this.started = 'all';
    if (this.mode.kind === 'binary' || this.mode.kind === 'null') return;
    if (this.disposing) throw new StdioError('canceled', 'stdio disposed');
    if (this.stdinPipe) this.startStdin(this.stdinPipe.write);
  }

  /**
   * The output half of {@link start}, for a runtime that already holds its copies of the
   * container's ends but has not run the process yet. Stdin waits for start(): a client may close
   * its stdin early, and it tells us so (CloseIO) only once Start has returned — the stdin fifo
   * is opened only then, as the reference does, so that client cannot read its EOF before.
   */
  async startOutputs(): Promise<void> {
    if (this.started !== 'none') throw new StdioError('invalid-argument', 'stdio already started');
    if (this.disposing) throw new StdioError('canceled', 'stdio disposed');
    this.started = 'outputs';
    if (this.mode.kind === 'binary') {
      // Only the logger holds the read ends now; we keep the write ends until dispose.
      this.fds.close(this.stdoutPipe?.read);
      this.fds.close(this.stderrPipe?.read);
      return;
    }
    if (this.mode.kind === 'null') return;
    this.fds.close(this.stdinPipe?.read);
    this.fds.close(this.stdoutPipe?.write);
    this.fds.close(this.stderrPipe?.write);
    await this.openSinksAndCopy();
  }

  private async openSinksAndCopy(): Promise<void> {
    const timeout = this.options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    const wanted: { pipe: PipeFds; path: string }[] = [];
    if (this.stdoutPipe) wanted.push({ pipe: this.stdoutPipe, path: this.stdoutPath });
    if (this.stderrPipe) wanted.push({ pipe: this.stderrPipe, path: this.stderrPath });
    // One open per distinct path: stdout and stderr naming one file share one O_APPEND writer.
    const opens = new Map<string, Promise<OutputTarget>>();
    for (const { path: p } of wanted) {
      if (!opens.has(p)) opens.set(p, openOutput(p, timeout, this.abort.signal));
    }
    const sinks = new Map<string, OutputSink>();
    const settled = await Promise.allSettled([...opens].map(async ([p, open]) => {
      // One failure fails start(): stop waiting for the other reader instead of up to 30 s more.
      const target = await open.catch((err: unknown) => {
        this.abort.abort();
        throw err;
      });
      const sink = OutputSink.forTarget(target);
      this.sinks.push(sink);
      if (this.disposing) sink.destroy();
      sinks.set(p, sink);
    }));
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    if (this.disposing) throw new StdioError('canceled', 'stdio disposed');
    // Two fifo opens of one path give two writers; that is fine, each copy has its own sink then.
    for (const { pipe, path: p } of wanted) {
      const readFd = this.fds.take(pipe.read);
      const source = this.stream(readPipe(readFd));
      const sink = sinks.get(p)!.acquire();
      this.drains.push(pump(source, sink.stream, undefined, sink.spliceFrom(readFd)).then(() => sink.release()));
    }
  }

  private startStdin(pipeWrite: number): void {
    const fifo = openStdin(fifoPath(this.config.stdin), !this.stdinClosed);
    this.fds.own(fifo.reader);
    if (fifo.writer !== undefined) this.stdinWriter = this.fds.own(fifo.writer);
    // The fifo is open now, so what the client writes waits in it; the copy's two libuv handles
    // (≈ 0.1 ms each) are made in the loop's next check phase, after Start's reply is written.
    setImmediate(() => this.copyStdin(fifo.reader, pipeWrite));
  }

  private copyStdin(fifoReader: number, pipeWrite: number): void {
    // Disposed meanwhile: both fds are closed already.
    if (this.disposing) return;
    const readFd = this.fds.take(fifoReader);
    const source = this.stream(readPipe(readFd));
    const sink = OutputSink.forPipe(this.fds.take(pipeWrite)).acquire();
    this.sinks.push(sink);
    // At EOF (CloseIO and the client closed) or when the container closed its stdin: close the
    // container's stdin after the pending bytes are written.
    void pump(source, sink.stream, undefined, sink.spliceFrom(readFd)).then(() => {
      source.destroy();
      return sink.release();
    });
  }

  private stream(socket: Socket): Socket {
    this.streams.add(socket);
    socket.once('close', () => this.streams.delete(socket));
    return socket;
  }

  /**
   * Resolves once stdout and stderr were copied to EOF and their client ends closed, or after
   * `timeoutMs`; the value says which (true = drained). Resolves at once when nothing is copied.
   */
  waitDrained(timeoutMs: number): Promise<boolean> {
    return drainedWithin(this.drains, timeoutMs);
  }

  /**
   * CloseIO: closes the shim's own stdin writer. The container sees EOF once the client has closed
   * its writer too (at once if it already has). Idempotent; a no-op without stdin.
   */
  async closeStdin(): Promise<void> {
    this.stdinClosed = true;
    const fd = this.stdinWriter;
    this.stdinWriter = undefined;
    this.fds.close(fd);
  }

  /** Stops every copy, closes every fd and stops a logging binary. Idempotent. */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      this.abort.abort();
      this.stdinWriter = undefined;
      for (const s of this.streams) s.destroy();
      for (const sink of this.sinks) sink.destroy();
      this.fds.closeAll();
      await this.logger?.stop(this.options.loggerStopTimeoutMs ?? DEFAULT_LOGGER_STOP_MS);
    })();
    return this.disposing;
  }
}

/** Creates a `file://` log's directories (0755) and the file (0644) if missing. */
function createLogFile(file: string): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    closeSync(openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644));
  } catch (err) {
    throw new StdioError('unknown', `failed to create log file ${file}: ${messageOf(err)}`, { cause: err });
  }
}

/** Shared by PipeIO and ConsoleIO: all `drains` settled within `timeoutMs`? */
export function drainedWithin(drains: readonly Promise<void>[], timeoutMs: number): Promise<boolean> {
  if (drains.length === 0) return Promise.resolve(true);
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.all(drains).then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
    }),
  ]).finally(() => clearTimeout(timer));
}
