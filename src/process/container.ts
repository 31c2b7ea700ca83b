/**
 * A container managed through an OCI runtime's command line: rootfs mounts, the init process and
 * its execs. This is the first implementation of the backend seam the shim drives (backend.ts).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { OciRuntime, runtimeFailureMessage, type OciProcess, type ProcessMonitor } from '../runtime/index.js';
import type { CgroupPaths } from './cgroup-paths.js';
import { cgroupWarmup } from './cgroup-warmup.js';
import { ProcessError, execNotFound, invalidArgument, unknownError } from './errors.js';
import type { ContainerContext } from './context.js';
import { readPidFile } from './context.js';
import { ExecProcess } from './exec-process.js';
import { identifierProblem } from './identifiers.js';
import { InitProcess, needsKillAllOnExit, type CheckpointRequest } from './init-process.js';
import { ProcessIO } from './process-io.js';
import { OomMonitor } from './oom-monitor.js';
import { mountAll, unmountAll, type MountSpec } from './rootfs.js';
import type { DeleteResult, EventSink, ExitRecord, Logger, ProcessListing, ProcessState, RuntimeSettings, StdioConfig } from './types.js';

/** Everything Create needs, without wire types. */
export interface CreateContainerRequest {
  readonly id: string;
  readonly bundle: string;
  readonly namespace: string;
  readonly rootfs: readonly MountSpec[];
  readonly stdio: StdioConfig;
  /** Restore from this checkpoint image at Start instead of creating now. */
  readonly checkpoint: string;
  readonly parentCheckpoint: string;
  readonly settings: RuntimeSettings;
}

export interface ContainerServices {
  readonly monitor: ProcessMonitor;
  readonly emit: EventSink;
  readonly log: Logger;
}

export class Container {
  private readonly execs = new Map<string, ExecProcess>();
  /** Exec ids reserved by an Exec call in flight. */
  private readonly reserved = new Set<string>();

  private constructor(
    private readonly ctx: ContainerContext,
    readonly init: InitProcess,
    /** `<bundle>/rootfs` when the task had rootfs mounts, else "" (nothing to unmount). */
    private readonly rootfsPath: string,
  ) {}

  get id(): string {
    return this.ctx.id;
  }

  get bundle(): string {
    return this.ctx.bundle;
  }

  get pid(): number {
    return this.init.pid;
  }

  /** The container's cgroups, recorded at create/restore (valid after the init exited, until Delete). */
  get cgroups(): CgroupPaths | undefined {
    return this.init.cgroups;
  }

  /** Mounts the rootfs, prepares stdio and runs `runtime create` (or prepares a restore). */
  static async create(request: CreateContainerRequest, services: ContainerServices): Promise<Container> {
    // From the first step: `runtime create` moves the init into its cgroups (cgroup-warmup.ts).
    const releaseWarmup = cgroupWarmup.hold();
    try {
      return await Container.createWarm(request, services);
    } finally {
      releaseWarmup();
    }
  }

  private static async createWarm(request: CreateContainerRequest, services: ContainerServices): Promise<Container> {
    const runtime = new OciRuntime(request.settings.config, services.monitor);
    const runtimeKind = await runtime.kind();
    const ctx: ContainerContext = {
      id: request.id,
      bundle: request.bundle,
      namespace: request.namespace,
      runtime,
      runtimeKind,
      monitor: services.monitor,
      settings: request.settings,
      emit: services.emit,
      log: services.log,
      oom: new OomMonitor(request.id, services.emit, services.log),
    };
    const rootfsPath = request.rootfs.length > 0 ? path.join(request.bundle, 'rootfs') : '';
    if (rootfsPath) {
      mkdirSync(rootfsPath, { recursive: true, mode: 0o711 });
      mountAll(request.rootfs, rootfsPath);
    }
    let io: ProcessIO | undefined;
    let created = false;
    try {
      io = await ProcessIO.prepare(request.stdio, { ...request.settings, containerId: request.id, namespace: request.namespace, bundle: request.bundle }, 'init');
      let pid = 0;
      const checkpoint = request.checkpoint ? { image: request.checkpoint, parent: request.parentCheckpoint } : undefined;
      if (!checkpoint) {
        const pidFile = path.join(request.bundle, 'init.pid');
        try {
          await runtime.create(request.id, {
            bundle: request.bundle,
            pidFile,
            ...(io.consoleSocketPath ? { consoleSocket: io.consoleSocketPath } : {}),
            noPivot: request.settings.noPivotRoot,
            noNewKeyring: request.settings.noNewKeyring,
            stdio: io.runtimeStdio,
          });
        } catch (err) {
          throw unknownError(runtimeFailureMessage('OCI runtime create failed', err), err);
        }
        created = true;
        pid = readPidFile(pidFile);
        // From right after create (the reference waits for Start): an OOM during start-up counts too.
        ctx.oom.watch(pid);
        await io.connect();
      }
      let container: Container | undefined;
      const init = new InitProcess(ctx, io, request.stdio, pid, checkpoint, needsKillAllOnExit(request.bundle), () => container?.runningExecs() ?? []);
      container = new Container(ctx, init, rootfsPath);
      return container;
    } catch (err) {
      ctx.oom.close();
      // Unlike the reference, never leave a runtime container behind a failed Create.
      // runsc may leave a sandbox and state behind a create that failed half way; the exact-id
      // check in the runtime client makes this safe when it left nothing.
      if (created || runtimeKind === 'runsc') await runtime.delete(request.id, { force: true }).catch(() => undefined);
      await io?.dispose().catch(() => undefined);
      try {
        unmountAll(rootfsPath);
      } catch (unmountErr) {
        services.log.warn('unmount after failed create', { error: String(unmountErr) });
      }
      throw err;
    }
  }

  /** Execs that are running now (their exits must precede the init's). */
  runningExecs(): ExecProcess[] {
    return [...this.execs.values()].filter((e) => e.running);
  }

  private exec(execId: string): ExecProcess {
    const found = this.execs.get(execId);
    if (!found) throw execNotFound(execId);
    return found;
  }

  /** Exec: reserve the id, check the init's state, add the exec in `created`. */
  addExec(execId: string, spec: OciProcess, stdio: StdioConfig): void {
    const problem = identifierProblem(execId);
    if (problem) throw invalidArgument(`invalid exec id: ${problem}`);
    if (execId === 'init') throw invalidArgument('exec id "init" is reserved for the init process');
    if (this.execs.has(execId) || this.reserved.has(execId)) {
      throw new ProcessError('already-exists', `id ${execId}`);
    }
    this.init.checkExecAllowed();
    this.execs.set(execId, new ExecProcess(this.ctx, execId, spec, stdio));
  }

  start(execId: string): Promise<number> {
    return execId === '' ? this.init.start() : this.exec(execId).start(this.init.freezeStatus !== undefined);
  }

  state(execId: string): ProcessState {
    return execId === '' ? this.init.state() : this.exec(execId).state(this.init.freezeStatus);
  }

  wait(execId: string): Promise<ExitRecord> {
    return execId === '' ? this.init.wait() : this.exec(execId).wait();
  }

  kill(execId: string, signal: number, all: boolean): Promise<void> {
    return execId === '' ? this.init.kill(signal, all) : this.exec(execId).kill(signal);
  }

  /** Delete of an exec (no event) or of the init (unmounts the rootfs; the shim then forgets the container). */
  async delete(execId: string): Promise<DeleteResult> {
    if (execId !== '') {
      const exec = this.exec(execId);
      const result = await exec.delete();
      this.execs.delete(execId);
      return result;
    }
    const result = await this.init.delete();
    for (const exec of this.execs.values()) await exec.dispose();
    this.execs.clear();
    this.ctx.oom.close();
    unmountAll(this.rootfsPath);
    return result;
  }

  async pids(): Promise<ProcessListing[]> {
    const pids = await this.init.pids();
    const byPid = new Map<number, string>();
    // runsc lists sandbox-internal pids: match execs by the internal pid runsc gave us at exec.
    const runsc = this.ctx.runtimeKind === 'runsc';
    for (const exec of this.execs.values()) {
      const pid = runsc ? (exec.sandboxPid ?? 0) : exec.listedPid;
      if (pid > 0) byPid.set(pid, exec.execId);
    }
    return pids.map((pid) => ({ pid, execId: byPid.get(pid) }));
  }

  pause(): Promise<void> {
    return this.init.pause();
  }

  resume(): Promise<void> {
    return this.init.resume();
  }

  update(resources: Record<string, unknown>): Promise<void> {
    return this.init.update(resources);
  }

  checkpoint(request: CheckpointRequest): Promise<void> {
    return this.init.checkpointTo(request);
  }

  resizePty(execId: string, width: number, height: number): void {
    if (execId === '') this.init.resize(width, height);
    else this.exec(execId).resize(width, height);
  }

  closeIO(execId: string): Promise<void> {
    return execId === '' ? this.init.closeStdin() : this.exec(execId).closeStdin();
  }

  /** Whether the init has been started and not yet stopped (for shutdown decisions). */
  get initStatus(): string {
    return this.init.currentStatus;
  }

  /** Reads a pid file of this bundle (used by the delete action's siblings and tests). */
  readPid(file: string): number {
    return readPidFile(path.join(this.ctx.bundle, file));
  }
}
