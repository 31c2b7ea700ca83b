/**
 * OciRuntime: a typed client for runc, crun and runsc command lines. Every command is spawned
 * through the ProcessMonitor (so exits are learned in one place), with the environment minus
 * NOTIFY_SOCKET and no shell. A failure becomes a RuntimeError carrying the exit status, the
 * captured output and the last error the runtime logged *during this command* (the log is read
 * from where it ended before the command, so a stale record from an earlier failure is not
 * reported).
 */
import { mkdtempSync, openSync, readSync, closeSync, fstatSync, rmdirSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createPipe, dupCloseOnExec, setNonBlocking, setPipeSize } from '../sys/index.js';
import os from 'node:os';
import path from 'node:path';
import { enterCrunNamespace, crunNeedsPrivateNamespace, type CrunNamespace } from './crun-hybrid.js';
import { lastLogError, parseLogRecords, RuntimeArgumentError, RuntimeError } from './errors.js';
import { JsonObjectStream } from './json-stream.js';
import { ProcessMonitor, SpawnError, type CommandResult } from './monitor.js';
import { resolveBinary } from './resolve-binary.js';
import { sealedCopies } from './sealed-binary.js';
import {
  renderCheckpoint, renderCreate, renderDelete, renderEvents, renderExec, renderGlobalArgs, renderKill,
  renderList, renderPs, renderRestore, renderSimple, renderUpdate,
  type CheckpointOptions, type CreateOptions, type DeleteOptions, type EventsOptions, type ExecOptions,
  type KillOptions, type RestoreOptions, type RunOptions,
} from './options.js';
import type { ContainerState, OciProcess, PreparedExec, RuntimeConfig, RuntimeEvent, RuntimeKind, RuntimeStats, RuntimeStdio, RuntimeVersion } from './types.js';
import { checkBinary } from './validate.js';
import { runscHasContainer } from './runsc-ids.js';
import { parseVersion } from './version.js';

/** What a fifo holds before F_SETPIPE_SZ (Linux: 16 pages). */
const PIPE_DEFAULT_CAPACITY = 65536;

function checkExecSpec(processSpec: OciProcess): void {
  if (!processSpec || typeof processSpec !== 'object' || typeof processSpec.cwd !== 'string') {
    throw new RuntimeArgumentError('exec: the process spec needs at least "cwd" (and "args")');
  }
}

/** A private temp dir for an exec's process file (in $XDG_RUNTIME_DIR, like go-runc's). */
function makeProcessFileDir(): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(process.env['XDG_RUNTIME_DIR'] || os.tmpdir(), 'runc-process'));
  return { dir, file: path.join(dir, 'process.json') };
}

/**
 * Removes a process-file dir once the exec's result has been handed on: its two directory
 * updates cost about 0.3 ms on a disk-backed /tmp, which the Start reply need not wait for. It
 * happens in the next check phase of the loop, before any later I/O callback of ours runs.
 */
function removeProcessFileDirSoon(processFile: { dir: string; file: string }): void {
  setImmediate(() => {
    try {
      unlinkSync(processFile.file);
      rmdirSync(processFile.dir);
    } catch {
      rmSync(processFile.dir, { recursive: true, force: true });
    }
  });
}

/** How one invocation's stdio is wired. */
interface Invocation {
  /** Container stdio fds (create, exec, run, restore); otherwise output is captured. */
  readonly stdio?: RuntimeStdio;
  /** Bytes for stdin (update). */
  readonly input?: Buffer;
  /** Whether crun needs its hybrid-cgroup namespace for this verb. */
  readonly touchesCgroups: boolean;
  /** Resolve with the result even on a non-zero status (non-detached exec/run). */
  readonly statusIsResult?: boolean;
  /** The existing container the verb names (runsc: checked exactly first, see runsc-ids.ts). */
  readonly target?: string;
  /** Called once the command was spawned: it holds its own copies of the stdio fds from then on. */
  readonly onSpawned?: () => void;
  /** fds the command gets as its fds 3, 4, … */
  readonly inheritFds?: readonly number[];
}

function execInvocation(id: string, options: ExecOptions): Invocation {
  return { stdio: options.stdio ?? {}, touchesCgroups: true, statusIsResult: !options.detach, target: id };
}

/** A sealed copy to execute in place of the runtime's file on disk (sealed-binary.ts). */
interface SealedExecutable {
  /** The binary's absolute path on disk. */
  readonly source: string;
  /** `/proc/self/fd/N` of its sealed copy. */
  readonly executable: string;
}

/**
 * The sealed copy of `binary` when one is ready (one is started otherwise), unless its fd is one
 * the command's inherited fds (3 … 2 + `inherited`) would take over before the exec.
 */
function sealedExecutable(binary: string, inherited: number): SealedExecutable | undefined {
  const source = path.isAbsolute(binary) ? binary : resolveBinary(binary, process.env['PATH']);
  if (source === undefined) return undefined;
  const executable = sealedCopies.executableFor(source);
  if (executable === source) return undefined;
  const fd = Number(/^\/proc\/self\/fd\/(\d+)$/.exec(executable)?.[1]);
  return fd >= 3 && fd < 3 + inherited ? undefined : { source, executable };
}

/** F_SETPIPE_SZ, or 0 when the kernel refuses (EPERM above pipe-max-size without CAP_SYS_RESOURCE). */
function setPipeSizeOrNot(fd: number, bytes: number): number {
  try {
    return setPipeSize(fd, bytes);
  } catch (err) {
    if ((err as { code?: string }).code === 'EPERM') return 0;
    throw err;
  }
}

/** Where runc reads an exec's process spec from (prepared or plain exec), and our end of it. */
interface ProcessChannel {
  /** The runtime's `--process` argument. */
  readonly path: string;
  /** What the runtime inherits as its fds 3, 4, … */
  readonly inheritFds: readonly number[];
  /** Our end: the spec is written here when the exec starts. */
  readonly writer: number;
  /** The runtime exited: closes our fds. */
  close(): void;
}

/**
 * runc: a pipe it inherits as fd 3 and opens as /proc/self/fd/3 (Go's os.Open of a pipe reads
 * like a fifo's). No file system work at all, where a fifo costs a directory, a mknod and their
 * removal: about 1 ms of this thread on a disk-backed /tmp per exec (docs/benchmarks.md, round 6).
 */
function processPipe(bytes: number): ProcessChannel | undefined {
  const pipe = createPipe();
  try {
    setNonBlocking(pipe.write, true);
    // Beyond /proc/sys/fs/pipe-max-size (1 MiB) only CAP_SYS_RESOURCE may grow a pipe: then the
    // caller uses a process file instead.
    if (bytes > PIPE_DEFAULT_CAPACITY && setPipeSizeOrNot(pipe.write, bytes) < bytes) {
      closeSync(pipe.read);
      closeSync(pipe.write);
      return undefined;
    }
  } catch (err) {
    closeSync(pipe.read);
    closeSync(pipe.write);
    throw err;
  }
  // Our read end stays open until the runtime exits: a retried spawn (sealed-copy fallback)
  // passes it again, and a spec handed to a runtime that already died just sits in the pipe.
  let open = true;
  return {
    path: '/proc/self/fd/3',
    inheritFds: [pipe.read],
    writer: pipe.write,
    close: () => {
      if (!open) return;
      open = false;
      closeSync(pipe.read);
      closeSync(pipe.write);
    },
  };
}

const versionCache = new Map<string, Promise<RuntimeVersion>>();

/**
 * Our environment without NOTIFY_SOCKET, frozen (so the spawn path may cache its `NAME=value`
 * strings). Copying `process.env` crosses into C++ once per variable: 70 µs hot, 185 µs after an
 * idle spell (35 variables, round 8 of docs/benchmarks.md), which an exec paid before its runc
 * could start. So each runtime client copies it once, at its first command.
 */
function runtimeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NOTIFY_SOCKET'];
  return Object.freeze(env);
}

/** Size of the log file now, so only what this command appends is read afterwards. */
function logSize(file: string | undefined): number {
  if (!file) return 0;
  try {
    const fd = openSync(file, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

function readLogFrom(file: string, offset: number): { error?: string; readError?: string } {
  let text: string;
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const start = size >= offset ? offset : 0; // truncated meanwhile: read it all
      const buf = Buffer.alloc(size - start);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, start + got);
        if (n === 0) break;
        got += n;
      }
      text = buf.subarray(0, got).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return { readError: `open ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  try {
    const error = lastLogError(parseLogRecords(text));
    return error === undefined ? {} : { error };
  } catch (err) {
    return { readError: (err as Error).message };
  }
}

/** A running `events` stream. */
export interface RuntimeEventStream {
  /** Stops the stream (SIGTERM to the runtime command). */
  stop(): void;
  /** Settles when the command ended; rejects with RuntimeError if it failed on its own. */
  readonly done: Promise<void>;
}

/** A typed client for one runtime configuration. */
export class OciRuntime {
  readonly config: RuntimeConfig;
  private readonly monitor: ProcessMonitor;
  /** The environment every command of this client gets (see runtimeEnv). */
  private envCopy: NodeJS.ProcessEnv | undefined;

  constructor(config: RuntimeConfig, monitor?: ProcessMonitor) {
    checkBinary(config.binary);
    this.config = config;
    this.monitor = monitor ?? ProcessMonitor.get();
  }

  /** What `<binary> --version` prints, parsed; cached per binary. Garbage → RuntimeError. */
  version(): Promise<RuntimeVersion> {
    const key = this.config.binary;
    let cached = versionCache.get(key);
    if (!cached) {
      cached = this.detectVersion();
      versionCache.set(key, cached);
      cached.catch(() => versionCache.delete(key));
    }
    return cached;
  }

  /** runc, crun or runsc, from the version output (never from the file name). */
  async kind(): Promise<RuntimeKind> {
    return (await this.version()).kind;
  }

  private async detectVersion(): Promise<RuntimeVersion> {
    const args = ['--version'];
    const result = await this.spawn(this.config.binary, args, {});
    if (result.exitStatus !== 0) throw this.failure(args, result, {}, false);
    const parsed = parseVersion(result.stdout);
    if (!parsed) {
      const first = result.output.split('\n')[0] ?? '';
      throw new RuntimeError(
        { binary: this.config.binary, args, exitStatus: 0, output: result.output, stderr: result.stderr, logError: undefined, logReadError: undefined, stdioAttached: false },
        { message: `${this.config.binary} is not a recognised OCI runtime: --version printed ${JSON.stringify(first.slice(0, 200))}` },
      );
    }
    return parsed;
  }

  private async spawn(binary: string, args: readonly string[], inv: { stdio?: RuntimeStdio; input?: Buffer; onSpawned?: () => void; inheritFds?: readonly number[]; sealed?: SealedExecutable }): Promise<CommandResult> {
    const stdio = inv.stdio;
    try {
      // run() spawns before it returns (posix_spawn and child_process alike).
      const running = this.monitor.run({
        binary,
        ...(inv.sealed ? { executable: inv.sealed.executable } : {}),
        args,
        stdin: inv.input ?? stdio?.stdin ?? 'null',
        stdout: stdio ? (stdio.stdout ?? 'null') : 'capture',
        stderr: stdio ? (stdio.stderr ?? 'null') : 'capture',
        ...(inv.inheritFds?.length ? { inheritFds: inv.inheritFds } : {}),
        env: (this.envCopy ??= runtimeEnv()),
        ...(this.config.commandTimeoutMs ? { timeoutMs: this.config.commandTimeoutMs } : {}),
      });
      inv.onSpawned?.();
      return await running;
    } catch (err) {
      if (err instanceof SpawnError && inv.sealed) {
        // The copy could not be executed (its fd was closed under us?): the file itself, from now on.
        sealedCopies.forget(inv.sealed.source);
        return this.spawn(binary, args, { ...inv, sealed: undefined });
      }
      if (err instanceof SpawnError) {
        throw new RuntimeError(
          { binary, args, exitStatus: undefined, output: '', stderr: '', logError: undefined, logReadError: undefined, stdioAttached: stdio !== undefined },
          { cause: err, message: err.code === 'ENOENT' ? `exec: "${binary}": executable file not found in $PATH` : err.message },
        );
      }
      throw err;
    }
  }

  private failure(args: readonly string[], result: CommandResult, log: { error?: string; readError?: string }, stdioAttached: boolean): RuntimeError {
    const timedOut = result.timedOut ? ` (killed after ${this.config.commandTimeoutMs} ms)` : '';
    const err = new RuntimeError({
      binary: this.config.binary,
      args,
      exitStatus: result.exitStatus,
      output: result.output,
      stderr: result.stderr,
      logError: log.error,
      logReadError: log.readError,
      stdioAttached,
    });
    if (timedOut) err.message += timedOut;
    return err;
  }

  /** Runs one subcommand; throws RuntimeError unless it exits 0 (or `statusIsResult`). */
  private async invoke(sub: string[], inv: Invocation): Promise<CommandResult> {
    const kind = await this.kind();
    const args = [...renderGlobalArgs(this.config, kind), ...sub];
    if (kind === 'runsc' && inv.target !== undefined && runscHasContainer(this.config.root, inv.target) === false) {
      throw new RuntimeError(
        { binary: this.config.binary, args, exitStatus: undefined, output: '', stderr: '', logError: undefined, logReadError: undefined, stdioAttached: false },
        { message: `container "${inv.target}" does not exist (not asked of runsc, which would match another container by id prefix)` },
      );
    }
    const jsonLog = this.config.log && this.config.logFormat === 'json' ? this.config.log : undefined;
    const offset = logSize(jsonLog);
    let ns: CrunNamespace | undefined;
    if (kind === 'crun' && inv.touchesCgroups && this.useCrunNamespace()) {
      ns = await enterCrunNamespace(this.monitor, this.config.binary, args, process.cwd());
    }
    const sealed = kind === 'runc' && !ns && this.config.sealedCopy ? sealedExecutable(this.config.binary, inv.inheritFds?.length ?? 0) : undefined;
    let result: CommandResult;
    try {
      result = await this.spawn(ns?.binary ?? this.config.binary, ns?.args ?? args, sealed ? { ...inv, sealed } : inv);
    } finally {
      ns?.release();
    }
    const log = jsonLog ? (result.exitStatus !== 0 ? readLogFrom(jsonLog, offset) : {}) : {};
    if (result.exitStatus === 0) return result;
    if (inv.statusIsResult && log.error === undefined) return result;
    throw this.failure(args, result, log, inv.stdio !== undefined);
  }

  private useCrunNamespace(): boolean {
    const mode = this.config.crunHybrid ?? 'auto';
    if (mode === 'off') return false;
    return mode === 'namespace' || crunNeedsPrivateNamespace();
  }

  /** `create`: sets the container up; its init waits for `start`. The pid is in `pidFile`. */
  async create(id: string, options: CreateOptions): Promise<void> {
    const kind = await this.kind();
    await this.invoke(renderCreate(id, options, kind), { stdio: options.stdio ?? {}, touchesCgroups: true });
  }

  /** `start <id>`. */
  async start(id: string): Promise<void> {
    await this.invoke(renderSimple('start', id), { touchesCgroups: true, target: id });
  }

  /**
   * `run`: create and start. Detached, resolves with 0 once the container runs; otherwise
   * resolves with the container's exit status (a runtime failure still throws, recognised by the
   * error it logged).
   */
  async run(id: string, options: RunOptions): Promise<number> {
    const kind = await this.kind();
    const result = await this.invoke(renderCreate(id, options, kind, 'run'), {
      stdio: options.stdio ?? {},
      touchesCgroups: true,
      statusIsResult: !options.detach,
    });
    return result.exitStatus;
  }

  /** `state <id>`, parsed. */
  async state(id: string): Promise<ContainerState> {
    const result = await this.invoke(renderSimple('state', id), { touchesCgroups: false, target: id });
    return this.parseJson<ContainerState>(renderSimple('state', id), result);
  }

  /** `list --format=json` (an empty list when the runtime prints `null`). */
  async list(): Promise<ContainerState[]> {
    const result = await this.invoke(renderList(), { touchesCgroups: false });
    return this.parseJson<ContainerState[] | null>(renderList(), result) ?? [];
  }

  /** `kill [--all] [--pid N] <id> <signal>`. */
  async kill(id: string, signal: number, options: KillOptions = {}): Promise<void> {
    const kind = await this.kind();
    await this.invoke(renderKill(id, signal, options, kind), { touchesCgroups: true, target: id });
  }

  /** `delete [--force] <id>`. */
  async delete(id: string, options: DeleteOptions = {}): Promise<void> {
    // `delete --force` of a missing container succeeds on every runtime; with runsc, asking would
    // delete whichever container the id is a prefix of.
    if (options.force && (await this.kind()) === 'runsc' && runscHasContainer(this.config.root, id) === false) return;
    await this.invoke(renderDelete(id, options), { touchesCgroups: true, target: id });
  }

  /**
   * `exec`: runs `process` (an OCI Process) in the container, via a pipe (runc) or a temporary
   * process file. Detached, resolves with 0 once it runs (pid in `pidFile`); otherwise with its
   * exit status.
   */
  async exec(id: string, processSpec: OciProcess, options: ExecOptions = {}): Promise<number> {
    checkExecSpec(processSpec);
    const kind = await this.kind();
    const spec = kind === 'runc' ? Buffer.from(JSON.stringify(processSpec)) : undefined;
    const channel = spec ? processPipe(spec.length) : undefined;
    if (spec && channel) {
      try {
        // Fits (processPipe sized it), so this never blocks; runc reads it after its start-up.
        if (writeSync(channel.writer, spec) !== spec.length) throw new RuntimeArgumentError('exec: the process spec did not fit in the process pipe');
        const result = await this.invoke(renderExec(id, channel.path, options, kind), { ...execInvocation(id, options), inheritFds: channel.inheritFds });
        return result.exitStatus;
      } finally {
        channel.close();
      }
    }
    const processFile = makeProcessFileDir();
    try {
      writeFileSync(processFile.file, spec ?? JSON.stringify(processSpec), { mode: 0o600 });
      const result = await this.invoke(renderExec(id, processFile.file, options, kind), execInvocation(id, options));
      return result.exitStatus;
    } finally {
      removeProcessFileDirSoon(processFile);
    }
  }

  /**
   * `exec` in two steps. For runc this starts the runtime now, with a pipe as its process file
   * (inherited as fd 3): it loads itself and the container's state, opens the pipe and waits
   * there. {@link PreparedExec.run} then writes the spec into the pipe and resolves like
   * {@link exec}; {@link PreparedExec.cancel} writes it a spec that is not JSON, so the runtime
   * fails to parse it and exits without having entered the container. For runc that start-up is
   * 7–9 ms of the ≈ 25 ms an exec takes, and the Exec → Start round trip of containerd hides it
   * (docs/benchmarks.md, round 4). Other runtimes start at run() (see deferredExec).
   */
  async prepareExec(id: string, processSpec: OciProcess, options: ExecOptions = {}): Promise<PreparedExec> {
    checkExecSpec(processSpec);
    const kind = await this.kind();
    if (kind !== 'runc') return this.deferredExec(id, processSpec, options);
    const spec = Buffer.from(JSON.stringify(processSpec));
    // The whole spec must fit in the pipe's buffer, so handing it over never blocks.
    const channel = processPipe(spec.length);
    if (!channel) throw new RuntimeArgumentError(`exec: a ${spec.length}-byte process spec does not fit in a pipe here; run it unprepared`);
    let exited = false;
    let spawned: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      spawned = resolve;
    });
    // Our end stays open until the runtime exits: a fifo nobody holds loses what it buffers, and
    // the runtime may not have opened it yet when the spec is written (it needs no EOF: it stops
    // reading at the end of the JSON value).
    const result = this.invoke(renderExec(id, channel.path, options, kind), { ...execInvocation(id, options), onSpawned: spawned, inheritFds: channel.inheritFds }).finally(() => {
      exited = true;
      channel.close();
    });
    result.catch(() => undefined);
    // Like exec(): once this resolves the runtime holds the stdio fds, and the caller may close its own.
    await Promise.race([started, result.then(() => undefined, () => undefined)]);
    const hand = (bytes: Buffer): void => {
      if (exited) return;
      const written = writeSync(channel.writer, bytes);
      if (written !== bytes.length) throw new RuntimeArgumentError('exec: the process spec did not fit in the process pipe');
    };
    let used = false;
    return {
      get stale() {
        return used || exited;
      },
      run: async () => {
        if (used) throw new RuntimeArgumentError('prepared exec already used or cancelled');
        used = true;
        hand(spec);
        return (await result).exitStatus;
      },
      cancel: async () => {
        if (!used) {
          used = true;
          // Not JSON: the runtime fails to parse it and exits before it touches the container.
          hand(Buffer.from('!'));
        }
        await result.catch(() => undefined);
      },
    };
  }

  /**
   * prepareExec for crun and runsc: nothing starts early. crun reads its process file to EOF (a
   * held-open fifo would never end) and starts in about a millisecond anyway; runsc's exec is a
   * different path. The stdio fds are duplicated so the caller may close its own at once.
   */
  private deferredExec(id: string, processSpec: OciProcess, options: ExecOptions): PreparedExec {
    const held: number[] = [];
    const dup = (fd: number | undefined): number | undefined => {
      if (fd === undefined) return undefined;
      const copy = dupCloseOnExec(fd);
      held.push(copy);
      return copy;
    };
    let stdio: RuntimeStdio | undefined;
    try {
      stdio = options.stdio ? { stdin: dup(options.stdio.stdin), stdout: dup(options.stdio.stdout), stderr: dup(options.stdio.stderr) } : undefined;
    } catch (err) {
      for (const fd of held) closeSync(fd);
      throw err;
    }
    const release = (): void => {
      for (const fd of held.splice(0)) closeSync(fd);
    };
    let used = false;
    return {
      get stale() {
        return used;
      },
      run: async () => {
        if (used) throw new RuntimeArgumentError('prepared exec already used or cancelled');
        used = true;
        try {
          return await this.exec(id, processSpec, { ...options, ...(stdio ? { stdio } : {}) });
        } finally {
          release();
        }
      },
      cancel: async () => {
        used = true;
        release();
      },
    };
  }

  /** `ps --format json <id>`: host pids (runsc: sandbox-internal pids). */
  async ps(id: string): Promise<number[]> {
    const result = await this.invoke(renderPs(id), { touchesCgroups: true, target: id });
    const pids = this.parseJson<number[] | null>(renderPs(id), result) ?? [];
    if (!Array.isArray(pids) || pids.some((p) => !Number.isInteger(p))) {
      throw this.garbage(renderPs(id), result, 'ps printed something that is not a list of pids');
    }
    return pids;
  }

  /** `pause <id>`. */
  async pause(id: string): Promise<void> {
    await this.invoke(renderSimple('pause', id), { touchesCgroups: true, target: id });
  }

  /** `resume <id>`. */
  async resume(id: string): Promise<void> {
    await this.invoke(renderSimple('resume', id), { touchesCgroups: true, target: id });
  }

  /** `update --resources - <id>` with the OCI LinuxResources as JSON on stdin. */
  async update(id: string, resources: Readonly<Record<string, unknown>>): Promise<void> {
    if (!resources || typeof resources !== 'object') throw new RuntimeArgumentError('update: resources must be an object');
    await this.invoke(renderUpdate(id), { input: Buffer.from(JSON.stringify(resources)), touchesCgroups: true, target: id });
  }

  /** `events --stats <id>`: one stats sample. */
  async stats(id: string): Promise<RuntimeStats> {
    const kind = await this.kind();
    const args = renderEvents(id, 'stats', kind);
    const result = await this.invoke(args, { touchesCgroups: true, target: id });
    const [first] = (() => {
      try {
        return new JsonObjectStream().push(result.stdout);
      } catch {
        return [];
      }
    })();
    if (!first) throw this.garbage(args, result, 'events --stats printed no JSON object');
    return first as RuntimeStats;
  }

  /** `events [--interval=Ns] <id>`: a stream of events (stats samples, OOM…) until stopped. */
  async events(id: string, options: EventsOptions, onEvent: (event: RuntimeEvent) => void): Promise<RuntimeEventStream> {
    const kind = await this.kind();
    const args = [...renderGlobalArgs(this.config, kind), ...renderEvents(id, options, kind)];
    const parser = new JsonObjectStream();
    let stopped = false;
    const running = this.monitor.start({
      binary: this.config.binary,
      args,
      stdin: 'null',
      env: (this.envCopy ??= runtimeEnv()),
      onOutput: (chunk, stream) => {
        if (stream !== 'stdout') return;
        try {
          for (const v of parser.push(chunk.toString('utf8'))) onEvent(v as RuntimeEvent);
        } catch {
          // garbage between events: drop the buffer and carry on
          parser.push('');
        }
      },
    });
    const done = running.result.then((result) => {
      if (!stopped && result.exitStatus !== 0) throw this.failure(args, result, {}, false);
    });
    done.catch(() => undefined);
    return {
      stop: () => {
        stopped = true;
        running.kill('SIGTERM');
      },
      done,
    };
  }

  /** `checkpoint <criu flags> <id>` (runc; runsc takes a subset; crun has none). */
  async checkpoint(id: string, options: CheckpointOptions): Promise<void> {
    const kind = await this.kind();
    await this.invoke(renderCheckpoint(id, options, kind), { touchesCgroups: true, target: id });
  }

  /** `restore … --bundle B <id>`; resolves with the exit status when not detached. */
  async restore(id: string, options: RestoreOptions): Promise<number> {
    const kind = await this.kind();
    const result = await this.invoke(renderRestore(id, options, kind), {
      stdio: options.stdio ?? {},
      touchesCgroups: true,
      statusIsResult: !options.detach,
    });
    return result.exitStatus;
  }

  /** `features` (runc ≥ 1.1 only), parsed. */
  async features(): Promise<Record<string, unknown>> {
    const result = await this.invoke(['features'], { touchesCgroups: false });
    return this.parseJson<Record<string, unknown>>(['features'], result);
  }

  private parseJson<T>(args: readonly string[], result: CommandResult): T {
    try {
      return JSON.parse(result.stdout) as T;
    } catch (err) {
      throw this.garbage(args, result, `unexpected output (${(err as Error).message})`);
    }
  }

  private garbage(args: readonly string[], result: CommandResult, why: string): RuntimeError {
    return new RuntimeError(
      { binary: this.config.binary, args, exitStatus: result.exitStatus, output: result.output, stderr: result.stderr, logError: undefined, logReadError: undefined, stdioAttached: false },
      { message: `${this.config.binary} ${args.find((a) => !a.startsWith('-')) ?? ''}: ${why}: ${JSON.stringify(result.output.slice(0, 200))}` },
    );
  }
}
