/**
 * An exec process: added by Exec, started by Start(exec_id), reaped like every container process.
 * Its TaskExit is never queued before its TaskExecStarted (the start holds `starting` until the
 * start event is queued, and the exit path waits for it).
 */
import { unlinkSync } from 'node:fs';
import path from 'node:path';
import { runtimeFailureMessage, type ExecOptions, type OciProcess, type PreparedExec, type ProcessExit, type RuntimeKind } from '../runtime/index.js';
import { cgroupWarmup } from './cgroup-warmup.js';
import { ProcessError, unknownError } from './errors.js';
import type { ContainerContext } from './context.js';
import { readPidFile } from './context.js';
import { Mutex, Signal } from './mutex.js';
import { ProcessIO, type ProcessIOSettings } from './process-io.js';
import { execRefusal, type ExecStatus } from './state.js';
import type { DeleteResult, ExitRecord, ProcessState, StdioConfig } from './types.js';

/** unlink(2) alone (rmSync stats the path before and after): pid files are plain files. */
function removeIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** What Exec prepared for Start: stdio (or why it failed) and, when it could, the runtime. */
interface EarlyStart {
  readonly io?: ProcessIO;
  readonly ioError?: unknown;
  readonly prepared?: PreparedExec;
  /**
   * Pipes only: the client's output fifos opened and their copies running from Exec on, so the
   * output and its EOF are handled while the runtime still starts, not after it returned.
   */
  readonly connecting?: Promise<void>;
}

/**
 * Longest a prepared runtime waits for its Start (containerd sends Start within milliseconds);
 * CONTAINERD_SHIM_TS_EARLY_EXEC_LIMIT_MS overrides it (tests of the fallback).
 */
const EARLY_EXEC_LIMIT_MS = Number(process.env['CONTAINERD_SHIM_TS_EARLY_EXEC_LIMIT_MS']) || 10_000;

/**
 * Only runc: a Go binary whose start-up is worth hiding (crun is C and starts in about a
 * millisecond; runsc's exec differs). CONTAINERD_SHIM_TS_EARLY_EXEC=0 turns it off.
 */
function prepareEarlyFor(kind: RuntimeKind): boolean {
  return kind === 'runc' && process.env['CONTAINERD_SHIM_TS_EARLY_EXEC'] !== '0';
}

export class ExecProcess {
  private status: ExecStatus = 'created';
  private pidValue = 0;
  /** sandbox-internal pid (runsc), used to signal the workload instead of the host helper. */
  private internalPid: number | undefined;
  private io: ProcessIO | undefined;
  private exitRecord: ExitRecord | undefined;
  private readonly mutex = new Mutex();
  private starting: Signal | undefined;
  /** Fired once the exit is recorded and its TaskExit queued (or when Start failed: Wait returns at once). */
  readonly exitPublished = new Signal<ExitRecord>();

  /** Start follows Exec within milliseconds: its `runtime exec` finds the cgroup lock warm (cgroup-warmup.ts). */
  private readonly releaseEarlyWarmup = cgroupWarmup.hold(2000);

  /** Stdio and the runtime, begun at Exec (see {@link prepareEarly}); taken by Start or Delete. */
  private early: Promise<EarlyStart> | undefined;
  private stdinCloseRequested = false;

  constructor(
    private readonly ctx: ContainerContext,
    readonly execId: string,
    private readonly spec: OciProcess,
    readonly stdio: StdioConfig,
  ) {
    // In the loop's next check phase, so after the Exec reply has been written: spawning the
    // runtime blocks this thread for about a millisecond that the reply need not wait, and the
    // reply lets containerd on to the Start (A/B in docs/benchmarks.md, round 5: this way is faster).
    if (prepareEarlyFor(ctx.runtimeKind)) this.early = new Promise<void>((r) => setImmediate(r)).then(() => this.prepareEarly());
  }

  private get ioSettings(): ProcessIOSettings {
    return { ...this.ctx.settings, containerId: this.ctx.id, namespace: this.ctx.namespace, bundle: this.ctx.bundle };
  }

  private get runtimeSpec(): OciProcess {
    return { ...this.spec, terminal: this.stdio.terminal };
  }

  private execOptions(io: ProcessIO): ExecOptions {
    return {
      detach: true,
      pidFile: this.pidFile,
      ...(this.ctx.runtimeKind === 'runsc' ? { internalPidFile: this.internalPidFile } : {}),
      ...(io.consoleSocketPath ? { consoleSocket: io.consoleSocketPath } : {}),
      stdio: io.runtimeStdio,
    };
  }

  /**
   * At Exec: prepares stdio and starts the runtime with the spec still held back, so its start-up
   * overlaps containerd's Exec → Start round trip (OciRuntime.prepareExec). A stdio failure is
   * kept for Start to report, as if Start had prepared it; a runtime that cannot be prepared only
   * means Start runs a plain exec. Unused for {@link EARLY_EXEC_LIMIT_MS}, the runtime is let go.
   */
  private async prepareEarly(): Promise<EarlyStart> {
    let io: ProcessIO;
    try {
      io = await ProcessIO.prepare(this.stdio, this.ioSettings, 'exec');
    } catch (ioError) {
      return { ioError };
    }
    try {
      const prepared = await this.ctx.runtime.prepareExec(this.ctx.id, this.runtimeSpec, this.execOptions(io));
      setTimeout(() => void prepared.cancel(), EARLY_EXEC_LIMIT_MS).unref();
      // The runtime holds its own copies of the container's ends now; a console exists only
      // once the runtime ran, so only pipes connect this early.
      if (this.stdio.terminal) return { io, prepared };
      const connecting = io.connectOutputs();
      connecting.catch(() => undefined);
      return { io, prepared, connecting };
    } catch (err) {
      this.ctx.log.debug('exec not prepared early', { exec_id: this.execId, error: String(err) });
      return { io };
    }
  }

  private takeEarly(): Promise<EarlyStart | undefined> {
    const early = this.early;
    this.early = undefined;
    return early ?? Promise.resolve(undefined);
  }

  /** A created exec going away unstarted: let its runtime go and close its stdio. */
  private async dropEarly(): Promise<void> {
    const early = await this.takeEarly();
    await early?.prepared?.cancel();
    await early?.io?.dispose();
    await early?.connecting?.catch(() => undefined);
  }

  get pid(): number {
    return this.pidValue;
  }

  /**
   * The pid to match against a process listing. While Start is in flight the runtime may already
   * have written the pid file (and `ps` may list the process) before we read it: peek at the file
   * then, so Pids never shows a starting exec without its id.
   */
  get listedPid(): number {
    if (this.pidValue > 0 || this.status !== 'created') return this.pidValue;
    try {
      return readPidFile(this.pidFile);
    } catch {
      return 0;
    }
  }

  /** The pid inside the sandbox (runsc; what `runsc ps` lists), when known. */
  get sandboxPid(): number | undefined {
    return this.internalPid;
  }

  get running(): boolean {
    return this.status === 'running';
  }

  private get pidFile(): string {
    return path.join(this.ctx.bundle, `${this.execId}.pid`);
  }

  private get internalPidFile(): string {
    return path.join(this.ctx.bundle, `${this.execId}.internal.pid`);
  }

  /**
   * Start(exec): stdio and `runtime exec --detach` (both begun at Exec when prepared early), then
   * connect stdio and queue TaskExecStarted. `frozen`: the container is paused or pausing now.
   */
  start(frozen = false): Promise<number> {
    return this.mutex.run(async () => {
      const refusal = execRefusal('start', this.status);
      if (refusal) throw refusal;
      const early = await this.takeEarly();
      if (early?.ioError !== undefined) throw early.ioError;
      let io = early?.io ?? (await ProcessIO.prepare(this.stdio, this.ioSettings, 'exec'));
      let prepared = early?.prepared;
      let connecting = early?.connecting;
      // A runtime that loaded the container's state before a pause must not be let in now, and
      // one that is gone cannot be: a plain exec asks the runtime afresh, with fresh stdio when
      // the early copies already let go of the container's ends.
      if (prepared && (prepared.stale || frozen)) {
        await prepared.cancel();
        prepared = undefined;
        if (connecting) {
          await io.dispose();
          await connecting.catch(() => undefined);
          connecting = undefined;
          io = await ProcessIO.prepare(this.stdio, this.ioSettings, 'exec');
        }
      }
      this.io = io;
      if (this.stdinCloseRequested) await io.closeStdin();
      const starting = new Signal();
      this.starting = starting;
      try {
        const releaseWarmup = cgroupWarmup.hold();
        this.releaseEarlyWarmup();
        try {
          if (prepared) await prepared.run();
          else await this.ctx.runtime.exec(this.ctx.id, this.runtimeSpec, this.execOptions(io));
        } catch (err) {
          await io.dispose();
          this.io = undefined;
          // Like the reference: the exec stays created and its Wait returns at once (status 0, no time).
          this.exitPublished.fire({ exitStatus: 0, exitedAt: undefined });
          throw unknownError(runtimeFailureMessage('OCI runtime exec failed', err), err);
        } finally {
          releaseWarmup();
        }
        const pid = readPidFile(this.pidFile);
        this.pidValue = pid;
        if (this.ctx.runtimeKind === 'runsc') {
          try {
            this.internalPid = readPidFile(this.internalPidFile);
          } catch {
            this.internalPid = undefined;
          }
        }
        this.ctx.monitor.waitForExit(pid).then((exit) => this.onExit(exit), (err: unknown) => {
          this.ctx.log.error('waiting for exec exit failed', { exec_id: this.execId, error: String(err) });
        });
        try {
          await connecting;
          await io.connect();
        } catch (err) {
          // The process runs but its stdio could not be wired: do not leak it (the reference does).
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
          throw err;
        }
        this.status = 'running';
        this.ctx.emit({ type: 'exec-started', containerId: this.ctx.id, execId: this.execId, pid });
        return pid;
      } finally {
        starting.fire();
        this.starting = undefined;
      }
    });
  }

  private async onExit(exit: ProcessExit): Promise<void> {
    if (this.starting) await this.starting.promise;
    if (this.status === 'stopped' || this.status === 'deleted') return;
    this.io?.processExited();
    // Exit is announced only once its output reached the client's fifo (bounded, never cut off here).
    if (this.io) await this.io.drainedAfterExit();
    const exitedAt = new Date();
    const record: ExitRecord = { exitStatus: exit.exitStatus, exitedAt };
    this.exitRecord = record;
    this.status = 'stopped';
    this.ctx.oom.check();
    this.ctx.emit({ type: 'exit', containerId: this.ctx.id, id: this.execId, pid: this.pidValue, exitStatus: record.exitStatus, exitedAt });
    this.exitPublished.fire(record);
  }

  /** Kill(exec): `all` is meaningless for one process. */
  async kill(signal: number): Promise<void> {
    if (this.status === 'created') throw new ProcessError('failed-precondition', 'process not created');
    if (this.status !== 'running') throw new ProcessError('not-found', 'process already finished');
    if (this.internalPid !== undefined) {
      // runsc: the host pid is a helper; signal the workload inside the sandbox.
      try {
        await this.ctx.runtime.kill(this.ctx.id, signal, { pid: this.internalPid });
        return;
      } catch (err) {
        throw unknownError(`exec kill error: unknown error after kill: ${(err as Error).message}`, err);
      }
    }
    try {
      process.kill(this.pidValue, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
        throw new ProcessError('not-found', 'exec kill error: process already finished');
      }
      throw unknownError(`exec kill error: unknown error after kill: ${(err as Error).message}`, err);
    }
  }

  /** State of this exec; `initStatus` overrides while the container is paused or pausing. */
  state(initStatus: 'paused' | 'pausing' | undefined): ProcessState {
    let status: ProcessState['status'];
    if (initStatus) status = initStatus;
    else status = this.status === 'deleted' ? 'stopped' : this.status;
    return { id: this.execId, bundle: this.ctx.bundle, pid: this.pidValue, status, stdio: this.stdio, exit: this.exitRecord };
  }

  /** Wait: resolves once the exit is recorded and announced. */
  wait(): Promise<ExitRecord> {
    return this.exitPublished.promise;
  }

  /** Delete(exec): allowed when created or stopped; no event. */
  delete(): Promise<DeleteResult> {
    return this.mutex.run(async () => {
      const refusal = execRefusal('delete', this.status);
      if (refusal) throw refusal;
      await this.dropEarly();
      const io = this.io;
      // The exit's own bounded wait, already over when the exit was announced: a copy still open
      // then (a leftover child holds the output, or the reader went away) is cut off by the dispose.
      if (io) await io.drainedAfterExit();
      this.status = 'deleted';
      this.cleanUpAfterReply(io);
      return { pid: this.pidValue, exitStatus: this.exitRecord?.exitStatus ?? 0, exitedAt: this.exitRecord?.exitedAt };
    });
  }

  /**
   * Closing the exec's stdio and removing its pid files go in the loop's next check phase, after
   * Delete's reply: the output has drained (or was given up on) by then, and the handles' teardown
   * (≈ 0.2 ms) and an unlink on a disk-backed bundle (0.3–0.6 ms) are nothing the client needs
   * (ctr waits for this reply before it exits). Nothing can reuse the pid file's name before then:
   * a new exec with this id needs another request, which is read in a later poll phase.
   */
  private cleanUpAfterReply(io: ProcessIO | undefined): void {
    const files = this.ctx.runtimeKind === 'runsc' ? [this.pidFile, this.internalPidFile] : [this.pidFile];
    setImmediate(() => {
      io?.dispose().catch((err: unknown) => this.ctx.log.warn('closing an exec\'s stdio failed', { exec_id: this.execId, error: String(err) }));
      for (const file of files) {
        try {
          removeIfPresent(file);
        } catch (err) {
          this.ctx.log.warn('removing an exec pid file failed', { exec_id: this.execId, file, error: String(err) });
        }
      }
    });
  }

  resize(width: number, height: number): void {
    const refusal = execRefusal('resize', this.status);
    if (refusal) throw refusal;
    this.io?.resize(width, height);
  }

  async closeStdin(): Promise<void> {
    // CloseIO may come before Start (the client's stdin ended early): it then reaches the stdio
    // prepared at Exec, and any stdio Start makes afresh.
    this.stdinCloseRequested = true;
    const early = this.early ? await this.early : undefined;
    await (this.io ?? early?.io)?.closeStdin();
  }

  /** Releases stdio when the whole container goes away. */
  async dispose(): Promise<void> {
    await this.dropEarly();
    await this.io?.dispose();
  }
}
