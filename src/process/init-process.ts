/**
 * The container's init process: state machine (state.ts), runtime verbs, and the exit path that
 * keeps the reference's ordering guarantees — TaskStart before TaskExit, every running exec's
 * TaskExit before the init's, and output drained before the exit is announced (bounded).
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { classifyKillError, RuntimeError, runtimeFailureMessage, type ProcessExit } from '../runtime/index.js';
import { readCgroupPaths, type CgroupPaths } from './cgroup-paths.js';
import { ProcessError, unknownError } from './errors.js';
import type { ContainerContext } from './context.js';
import { readPidFile } from './context.js';
import type { ExecProcess } from './exec-process.js';
import { Mutex, Signal, settlesWithin } from './mutex.js';
import { DRAIN_ON_EXIT_MS, type ProcessIO } from './process-io.js';
import { initRefusal, reportedInitStatus, type InitStatus, type InitVerb } from './state.js';
import type { DeleteResult, ExitRecord, ProcessState, StdioConfig } from './types.js';

/** How long the init's exit waits for running execs to be reaped and announced. */
const EXEC_EXIT_GRACE_MS = 5000;

/** Checkpoint request, without wire types. */
export interface CheckpointRequest {
  readonly imagePath: string;
  readonly workPath: string;
  readonly exit: boolean;
  readonly openTcp: boolean;
  readonly externalUnixSockets: boolean;
  readonly terminal: boolean;
  readonly fileLocks: boolean;
  readonly emptyNamespaces: readonly string[];
}

export class InitProcess {
  private status: InitStatus;
  private pidValue: number;
  private pausing = false;
  private exitRecord: ExitRecord | undefined;
  private cgroupsValue: CgroupPaths | undefined;
  private readonly mutex = new Mutex();
  private starting: Signal | undefined;
  /** Fired once the exit is recorded and TaskExit queued. */
  readonly exitPublished = new Signal<ExitRecord>();

  constructor(
    private readonly ctx: ContainerContext,
    private readonly io: ProcessIO,
    readonly stdio: StdioConfig,
    pid: number,
    private readonly checkpoint: { image: string; parent: string } | undefined,
    /** Whether the init's exit must take the rest of the container with it (no private pid namespace). */
    private readonly killAllOnExit: boolean,
    private readonly runningExecs: () => readonly ExecProcess[],
  ) {
    this.pidValue = pid;
    this.status = checkpoint ? 'created-checkpoint' : 'created';
    if (pid > 0) {
      this.cgroupsValue = readCgroupPaths(pid);
      this.watchExit(pid);
    }
  }

  get pid(): number {
    return this.pidValue;
  }

  /**
   * The cgroups the init was placed in, recorded when its pid became known (after create or
   * restore), so Stats still finds them once the init has exited and until Delete. Falls back to
   * the live process when recording failed.
   */
  get cgroups(): CgroupPaths | undefined {
    this.cgroupsValue ??= readCgroupPaths(this.pidValue);
    return this.cgroupsValue;
  }

  get currentStatus(): InitStatus {
    return this.status;
  }

  /** Paused or pausing, as exec State reports it. */
  get freezeStatus(): 'paused' | 'pausing' | undefined {
    if (this.pausing) return 'pausing';
    return this.status === 'paused' ? 'paused' : undefined;
  }

  private get pidFile(): string {
    return path.join(this.ctx.bundle, 'init.pid');
  }

  private refuse(verb: InitVerb): void {
    const refusal = initRefusal(verb, this.status);
    if (refusal) throw refusal;
  }

  /** Exec may be added only in states where the init can host it. */
  checkExecAllowed(): void {
    this.refuse('exec');
  }

  private watchExit(pid: number): void {
    this.ctx.monitor.waitForExit(pid).then(
      (exit) => this.onExit(exit),
      (err: unknown) => this.ctx.log.error('waiting for init exit failed', { error: String(err) }),
    );
  }

  private async onExit(exit: ProcessExit): Promise<void> {
    if (this.starting) await this.starting.promise;
    if (this.status === 'stopped' || this.status === 'deleted') return;
    const wasPaused = this.status === 'paused';
    if (this.killAllOnExit) {
      await this.ctx.runtime.kill(this.ctx.id, 9, { all: true }).catch((err: unknown) => {
        this.ctx.log.debug('kill --all after init exit', { error: String(err) });
      });
    }
    const execExits = this.runningExecs().map((e) => e.exitPublished.promise);
    if (execExits.length > 0) await settlesWithin(Promise.all(execExits), EXEC_EXIT_GRACE_MS);
    this.io.processExited();
    await this.io.drainedAfterExit();
    const exitedAt = new Date();
    const record: ExitRecord = { exitStatus: exit.exitStatus, exitedAt };
    this.exitRecord = record;
    this.status = 'stopped';
    if (wasPaused) {
      // A frozen cgroup keeps the remaining processes stuck; thaw it so they can die.
      await this.ctx.runtime.resume(this.ctx.id).catch(() => undefined);
    }
    // An OOM kill signalled the cgroup before the victim died: its TaskOOM goes first.
    this.ctx.oom.check();
    this.ctx.emit({ type: 'exit', containerId: this.ctx.id, id: this.ctx.id, pid: this.pidValue, exitStatus: exit.exitStatus, exitedAt });
    this.exitPublished.fire(record);
  }

  /** Start(init): `runtime start`, or `runtime restore` for a checkpoint-created init. */
  start(): Promise<number> {
    return this.mutex.run(async () => {
      this.refuse('start');
      const starting = new Signal();
      this.starting = starting;
      try {
        if (this.status === 'created-checkpoint') await this.restore();
        else {
          try {
            await this.ctx.runtime.start(this.ctx.id);
          } catch (err) {
            if (this.ctx.runtimeKind === 'runsc') await this.destroySandbox('start failed');
            throw unknownError(runtimeFailureMessage('OCI runtime start failed', err), err);
          }
        }
        this.status = 'running';
        this.ctx.emit({ type: 'start', containerId: this.ctx.id, pid: this.pidValue });
        return this.pidValue;
      } finally {
        starting.fire();
        this.starting = undefined;
      }
    });
  }

  private async restore(): Promise<void> {
    const checkpoint = this.checkpoint!;
    const settings = this.ctx.settings;
    try {
      await this.ctx.runtime.restore(this.ctx.id, {
        bundle: this.ctx.bundle,
        imagePath: checkpoint.image,
        workPath: settings.criuWorkPath || path.join(this.ctx.bundle, 'work'),
        ...(checkpoint.parent ? { parentPath: checkpoint.parent } : {}),
        detach: true,
        pidFile: this.pidFile,
        noSubreaper: true,
        noPivot: settings.noPivotRoot,
        ...(this.io.consoleSocketPath ? { consoleSocket: this.io.consoleSocketPath } : {}),
        stdio: this.io.runtimeStdio,
      });
    } catch (err) {
      throw unknownError(runtimeFailureMessage('OCI runtime restore failed', err), err);
    }
    this.pidValue = readPidFile(this.pidFile);
    this.cgroupsValue = readCgroupPaths(this.pidValue);
    this.ctx.oom.watch(this.pidValue);
    this.watchExit(this.pidValue);
    await this.io.connect();
  }

  /**
   * runsc keeps a sandbox (and its cgroups and state) for a container whose start failed, and
   * cannot signal a container that was never started. `delete --force` ends the sandbox; its
   * exit is then reaped and reported like any init exit, and the later Delete finds nothing left.
   */
  private async destroySandbox(why: string): Promise<void> {
    await this.ctx.runtime.delete(this.ctx.id, { force: true }).catch((err: unknown) => {
      this.ctx.log.warn('removing the runsc sandbox failed', { why, error: String(err) });
    });
  }

  /** Kill(init): through the runtime, with the reference's error classification. */
  async kill(signal: number, all: boolean): Promise<void> {
    if (this.status === 'deleted') throw new ProcessError('not-found', 'cannot kill a deleted process');
    if (this.ctx.runtimeKind === 'runsc' && this.status === 'created' && (signal === 9 || signal === 15)) {
      // `runsc kill` refuses a created container ("cannot signal container in state created").
      await this.destroySandbox(`signal ${signal} before start`);
      return;
    }
    try {
      await this.ctx.runtime.kill(this.ctx.id, signal, { all });
    } catch (err) {
      if (err instanceof RuntimeError) {
        const kind = classifyKillError(err);
        if (kind === 'already-finished') throw new ProcessError('not-found', 'process already finished', { cause: err });
        if (kind === 'not-found') throw new ProcessError('not-found', 'no such container', { cause: err });
      }
      throw unknownError(`unknown error after kill: ${(err as Error).message}`, err);
    }
  }

  state(): ProcessState {
    return {
      id: this.ctx.id,
      bundle: this.ctx.bundle,
      pid: this.pidValue,
      status: reportedInitStatus(this.status, this.pausing),
      stdio: this.stdio,
      exit: this.exitRecord,
    };
  }

  wait(): Promise<ExitRecord> {
    return this.exitPublished.promise;
  }

  pause(): Promise<void> {
    return this.mutex.run(async () => {
      this.refuse('pause');
      this.pausing = true;
      try {
        await this.ctx.runtime.pause(this.ctx.id);
      } catch (err) {
        throw unknownError(runtimeFailureMessage('OCI runtime pause failed', err), err);
      } finally {
        this.pausing = false;
      }
      if (this.status === 'running') this.status = 'paused';
      this.ctx.emit({ type: 'paused', containerId: this.ctx.id });
    });
  }

  resume(): Promise<void> {
    return this.mutex.run(async () => {
      this.refuse('resume');
      try {
        await this.ctx.runtime.resume(this.ctx.id);
      } catch (err) {
        throw unknownError(runtimeFailureMessage('OCI runtime resume failed', err), err);
      }
      if (this.status === 'paused') this.status = 'running';
      this.ctx.emit({ type: 'resumed', containerId: this.ctx.id });
    });
  }

  update(resources: Record<string, unknown>): Promise<void> {
    return this.mutex.run(async () => {
      this.refuse('update');
      if (this.ctx.runtimeKind === 'runsc') {
        // runsc has no `update` command (it prints its usage); say so instead of passing that on.
        throw new ProcessError('not-implemented', 'updating resources is not supported by runsc (gVisor has no update command)');
      }
      try {
        await this.ctx.runtime.update(this.ctx.id, resources);
      } catch (err) {
        throw unknownError((err as Error).message, err);
      }
    });
  }

  checkpointTo(request: CheckpointRequest): Promise<void> {
    return this.mutex.run(async () => {
      this.refuse('checkpoint');
      const defaultWork = path.join(this.ctx.bundle, 'work', 'criu-work');
      const workPath = request.workPath || defaultWork;
      mkdirSync(workPath, { recursive: true });
      try {
        await this.ctx.runtime.checkpoint(this.ctx.id, {
          imagePath: request.imagePath,
          workPath,
          leaveRunning: !request.exit,
          tcpEstablished: request.openTcp,
          extUnixSk: request.externalUnixSockets,
          shellJob: request.terminal,
          fileLocks: request.fileLocks,
          emptyNamespaces: request.emptyNamespaces,
        });
      } catch (err) {
        const dumpLog = path.join(this.ctx.bundle, 'criu-dump.log');
        try {
          copyFileSync(path.join(workPath, 'dump.log'), dumpLog);
        } catch {
          // no dump log to keep
        }
        const first = ((err as Error).message ?? String(err)).split('\n')[0];
        // The reference only points at the log; we also name criu's own reason (e.g. a kernel
        // whose vDSO criu cannot handle), keeping `path= <log>` last as the reference does.
        const reason = criuFailureReason(dumpLog);
        throw unknownError(`${first}${reason ? `: criu: ${reason}` : ''} path= ${dumpLog}`, err);
      } finally {
        if (!request.workPath) rmSync(defaultWork, { recursive: true, force: true });
      }
    });
  }

  /**
   * Delete(init). A created init is killed by `runtime delete`; we wait for its exit to be
   * announced so TaskExit (with the real status) precedes TaskDelete and pending Waits return.
   */
  delete(): Promise<DeleteResult> {
    return this.mutex.run(async () => {
      this.refuse('delete');
      const wasCreated = this.status === 'created' || this.status === 'created-checkpoint';
      if (!wasCreated) await this.io.drainedAfterExit();
      try {
        await this.ctx.runtime.delete(this.ctx.id);
      } catch (err) {
        const text = (err as Error).message ?? String(err);
        if (!text.includes('does not exist')) {
          throw unknownError(runtimeFailureMessage('failed to delete task', err), err);
        }
      }
      if (wasCreated) {
        if (this.pidValue > 0) await settlesWithin(this.exitPublished.promise, DRAIN_ON_EXIT_MS);
        if (!this.exitPublished.fired) {
          this.exitPublished.fire({ exitStatus: this.exitRecord?.exitStatus ?? 0, exitedAt: this.exitRecord?.exitedAt });
        }
      }
      await this.io.dispose();
      this.status = 'deleted';
      return { pid: this.pidValue, exitStatus: this.exitRecord?.exitStatus ?? 0, exitedAt: this.exitRecord?.exitedAt };
    });
  }

  resize(width: number, height: number): void {
    this.io.resize(width, height);
  }

  closeStdin(): Promise<void> {
    return this.io.closeStdin();
  }

  /** Host pids inside the container (runsc: sandbox-internal pids). */
  async pids(): Promise<number[]> {
    try {
      return await this.ctx.runtime.ps(this.ctx.id);
    } catch (err) {
      if (this.status === 'stopped') return [];
      throw unknownError((err as Error).message, err);
    }
  }

  async dispose(): Promise<void> {
    await this.io.dispose();
  }
}

/**
 * criu's reason for a failed dump: the first `Error (file:line): …` line of its log that is not
 * just a helper's exit status, or "" when the log is missing or says nothing more.
 */
export function criuFailureReason(logFile: string): string {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return '';
  }
  for (const line of text.split('\n')) {
    const m = /Error \([^)]*\): (.*)$/.exec(line);
    if (m && !/^exited, status=/.test(m[1]!.trim())) return m[1]!.trim();
  }
  return '';
}

/**
 * The reference rule: when config.json cannot be read, or has no private pid namespace (a `pid`
 * entry without a path), the init's exit must be followed by `kill --all`.
 */
export function needsKillAllOnExit(bundle: string): boolean {
  try {
    const spec = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as {
      linux?: { namespaces?: { type?: string; path?: string }[] };
    };
    const pidNs = spec.linux?.namespaces?.find((ns) => ns.type === 'pid');
    return !(pidNs && !pidNs.path);
  } catch {
    return true;
  }
}
