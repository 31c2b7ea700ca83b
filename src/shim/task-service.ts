/**
 * containerd.task.v2.Task: wire messages in, process-layer calls, wire messages and events out.
 * Every handler's errors go through toTtrpcError (status-mapping.ts), the only error → code map.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import {
  type CheckpointTaskRequest,
  type CloseIORequest,
  type ConnectRequest,
  ConnectResponseSchema,
  type CreateTaskRequest,
  CreateTaskResponseSchema,
  type DeleteRequest,
  DeleteResponseSchema,
  type ExecProcessRequest,
  type KillRequest,
  type PauseRequest,
  type PidsRequest,
  PidsResponseSchema,
  type ResizePtyRequest,
  type ResumeRequest,
  type ShutdownRequest,
  type StartRequest,
  StartResponseSchema,
  type StateRequest,
  StateResponseSchema,
  type StatsRequest,
  StatsResponseSchema,
  type UpdateTaskRequest,
  type WaitRequest,
  WaitResponseSchema,
} from '../api/containerd/task/v2/shim_pb.js';
import { Status } from '../api/containerd/types/task/task_pb.js';
import { CheckpointOptionsSchema, ProcessDetailsSchema } from '../api/containerd/runc/v1/options_pb.js';
import { EmptySchema } from '@bufbuild/protobuf/wkt';
import {
  Container,
  containerNotFound,
  identifierProblem,
  invalidArgument,
  ProcessError,
  type Logger,
  type ProcessState,
} from '../process/index.js';
import type { ProcessMonitor } from '../runtime/index.js';
import { exitTime, packEvent, packProcessEvent, PROCESS_EVENT_TOPICS, TaskCreateSchema, TaskDeleteSchema, TaskExecAddedSchema, TOPICS } from './events.js';
import { bareTypeUrl, decodeRuntimeOptions, resolveSettings } from './options.js';
import type { EventPublisher } from './publisher.js';
import { readContainerStats } from './stats.js';
import { removeRunscPodRoot, withRunscPodRoot } from './runsc-root.js';
import { containerLogger, type ContainerLogger } from './logger.js';
import { bundleParentProblem, stdioProblem } from './request-checks.js';
import { withDiskFullHint } from './disk-full.js';

/** Written into the bundle after a successful Delete of the init; the `delete` action's fast path prints it. */
export const DELETED_MARKER = 'shim-deleted.pb';

export interface TaskServiceDeps {
  readonly namespace: string;
  readonly monitor: ProcessMonitor;
  readonly publisher: EventPublisher;
  readonly log: Logger;
  /** Called with each task's log as Create opens it (the daemon's own lines follow the newest; DaemonLogger). */
  readonly followTaskLog?: (log: ContainerLogger) => void;
  readonly debug: boolean;
  /** Called when Shutdown finds no container left: the daemon exits (or lingers) after replying. */
  readonly requestShutdown: () => void;
  /** Called when a Create starts, so a lingering daemon cancels its idle exit. */
  readonly onBusy: () => void;
  /**
   * The directory every bundle of this namespace lives in (the parent of the bundle the daemon was
   * started in); Create refuses bundles elsewhere. Undefined when unknown (a daemon started by hand).
   */
  readonly bundleParent?: string;
  /** Run runc from a sealed in-memory copy (runtime/sealed-binary.ts); options.ts sealedRuncWanted decides. */
  readonly sealedRuntimeCopy?: boolean;
}

type Empty = MessageInitShape<typeof EmptySchema>;

const STATUS_OF: Readonly<Record<ProcessState['status'], Status>> = {
  created: Status.CREATED,
  running: Status.RUNNING,
  paused: Status.PAUSED,
  pausing: Status.PAUSING,
  stopped: Status.STOPPED,
};

function decodeJson(any: Any | undefined, what: string): Record<string, unknown> {
  if (!any) throw invalidArgument(`${what} must be set`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(any.value).toString('utf8'));
  } catch (err) {
    throw invalidArgument(`decode ${what}: ${(err as Error).message}`, err);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidArgument(`${what} must be a JSON object`);
  return parsed as Record<string, unknown>;
}

/** The Task service implementation; method names are protobuf-es local names. */
export class TaskService {
  private readonly containers = new Map<string, Container>();
  /** Each container logs into its own bundle's `log` fifo, so a shared daemon's lines reach the right task. */
  private readonly logs = new Map<string, ContainerLogger>();
  /** Ids whose Create is in flight, so a racing second Create fails cleanly. */
  private readonly creating = new Set<string>();
  /** Each container's runtime root (runsc: per pod, removed with its last container). */
  private readonly runtimeRoots = new Map<string, string | undefined>();

  /** The root a Create wrote into the bundle's shim-runtime.json, for cleanup when it failed. */
  private pendingRoot(bundle: string): string | undefined {
    try {
      return (JSON.parse(readFileSync(path.join(bundle, 'shim-runtime.json'), 'utf8')) as { root?: string }).root;
    } catch {
      return undefined;
    }
  }

  constructor(private readonly deps: TaskServiceDeps) {}

  /** The logger for lines about task `id`: its bundle's `log` fifo while it exists, else the daemon's. */
  logFor(id: string): Logger {
    return this.logs.get(id) ?? this.deps.log;
  }

  /** Whether any container is managed or being created (Shutdown and idle exit depend on it). */
  get busy(): boolean {
    return this.containers.size > 0 || this.creating.size > 0;
  }

  private container(id: string): Container {
    const found = this.containers.get(id);
    if (!found) throw containerNotFound();
    return found;
  }

  private emitProcessEvent = (event: Parameters<typeof packProcessEvent>[0]): void => {
    this.deps.publisher.publish(PROCESS_EVENT_TOPICS[event.type], () => packProcessEvent(event));
  };

  private validateCreate(req: CreateTaskRequest): void {
    const problem = identifierProblem(req.id);
    if (problem) throw invalidArgument(`invalid task id: ${problem}`);
    if (!path.isAbsolute(req.bundle) || path.normalize(req.bundle) !== req.bundle.replace(/\/+$/, '')) {
      throw invalidArgument(`bundle path ${JSON.stringify(req.bundle)} must be absolute and normalized`);
    }
    // containerd's layout is <state>/io.containerd.runtime.v2.task/<namespace>/<id>; refuse bundles elsewhere
    // so a hostile request cannot make us mount or write outside a task's own directory.
    if (path.basename(req.bundle) !== req.id || path.basename(path.dirname(req.bundle)) !== this.deps.namespace) {
      throw invalidArgument(`bundle path ${JSON.stringify(req.bundle)} is not the bundle of task ${req.id} in namespace ${this.deps.namespace}`);
    }
    const outside = bundleParentProblem(req.bundle, this.deps.bundleParent);
    if (outside) throw invalidArgument(outside);
    const badStdio = stdioProblem(req);
    if (badStdio) throw invalidArgument(badStdio);
    let isDir = false;
    try {
      isDir = statSync(req.bundle).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) throw new ProcessError('not-found', `bundle ${req.bundle} does not exist`);
    if (this.containers.has(req.id) || this.creating.has(req.id)) throw new ProcessError('already-exists', `task ${req.id}`);
  }

  async create(req: CreateTaskRequest): Promise<MessageInitShape<typeof CreateTaskResponseSchema>> {
    this.validateCreate(req);
    this.creating.add(req.id);
    this.deps.onBusy();
    const log = containerLogger(req.bundle, this.deps.debug, { namespace: this.deps.namespace, id: req.id });
    this.deps.followTaskLog?.(log);
    try {
      const shimConfig = decodeRuntimeOptions(req.options);
      const settings = await withRunscPodRoot(resolveSettings(shimConfig, this.deps.namespace, req.bundle, { sealedCopy: this.deps.sealedRuntimeCopy ?? false }), req.bundle, req.id);
      // What the `delete` action needs to clean up after a dead daemon.
      writeFileSync(path.join(req.bundle, 'shim-runtime.json'), JSON.stringify(settings.config), { mode: 0o600 });
      mkdirSync(settings.config.root!, { recursive: true, mode: 0o711 });
      const container = await Container.create(
        {
          id: req.id,
          bundle: req.bundle,
          namespace: this.deps.namespace,
          rootfs: req.rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target, options: m.options })),
          stdio: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
          checkpoint: req.checkpoint,
          parentCheckpoint: req.parentCheckpoint,
          settings,
        },
        { monitor: this.deps.monitor, emit: this.emitProcessEvent, log },
      );
      this.containers.set(req.id, container);
      this.logs.set(req.id, log);
      this.runtimeRoots.set(req.id, settings.config.root);
      const pid = container.pid;
      this.deps.publisher.publish(TOPICS.create, () =>
        packEvent(TaskCreateSchema, {
          containerId: req.id,
          bundle: req.bundle,
          rootfs: req.rootfs,
          io: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
          checkpoint: req.checkpoint,
          pid,
        }),
      );
      log.info('task created', { pid: container.pid });
      return { pid: container.pid };
    } catch (err) {
      removeRunscPodRoot(this.pendingRoot(req.bundle), req.bundle, req.id);
      const reported = withDiskFullHint(err, [{ what: 'runtime state root', dir: this.pendingRoot(req.bundle) }, { what: 'bundle', dir: req.bundle }]);
      log.error('create failed', { error: reported instanceof Error ? reported.message : String(reported) });
      log.close();
      throw reported;
    } finally {
      this.creating.delete(req.id);
    }
  }

  async start(req: StartRequest): Promise<MessageInitShape<typeof StartResponseSchema>> {
    const pid = await this.container(req.id).start(req.execId);
    return { pid };
  }

  async delete(req: DeleteRequest): Promise<MessageInitShape<typeof DeleteResponseSchema>> {
    const container = this.container(req.id);
    const result = await container.delete(req.execId);
    if (req.execId === '') {
      this.containers.delete(req.id);
      removeRunscPodRoot(this.runtimeRoots.get(req.id), container.bundle, req.id);
      this.runtimeRoots.delete(req.id);
      this.logs.get(req.id)?.close();
      this.logs.delete(req.id);
      // The `delete` action containerd runs next finds the work done (and answers without Node).
      try {
        writeFileSync(path.join(container.bundle, DELETED_MARKER), toBinary(DeleteResponseSchema, create(DeleteResponseSchema, { pid: result.pid, exitStatus: result.exitStatus, exitedAt: exitTime(result.exitedAt) })), { mode: 0o600 });
      } catch {
        // bundle already gone: containerd is tearing down anyway
      }
      this.deps.publisher.publish(TOPICS.delete, () =>
        packEvent(TaskDeleteSchema, { containerId: req.id, pid: result.pid, exitStatus: result.exitStatus, exitedAt: exitTime(result.exitedAt) }),
      );
    }
    return { pid: result.pid, exitStatus: result.exitStatus, exitedAt: exitTime(result.exitedAt) };
  }

  async pids(req: PidsRequest): Promise<MessageInitShape<typeof PidsResponseSchema>> {
    const listing = await this.container(req.id).pids();
    return {
      processes: listing.map((p) => ({
        pid: p.pid,
        ...(p.execId !== undefined ? { info: packEvent(ProcessDetailsSchema, { execId: p.execId }) } : {}),
      })),
    };
  }

  async pause(req: PauseRequest): Promise<Empty> {
    await this.container(req.id).pause();
    return {};
  }

  async resume(req: ResumeRequest): Promise<Empty> {
    await this.container(req.id).resume();
    return {};
  }

  async checkpoint(req: CheckpointTaskRequest): Promise<Empty> {
    const container = this.container(req.id);
    let options = create(CheckpointOptionsSchema);
    if (req.options && req.options.typeUrl !== '') {
      if (bareTypeUrl(req.options.typeUrl) !== CheckpointOptionsSchema.typeName) {
        throw invalidArgument(`checkpoint options of type ${req.options.typeUrl} are not ${CheckpointOptionsSchema.typeName}`);
      }
      options = fromBinary(CheckpointOptionsSchema, req.options.value);
    }
    await container.checkpoint({
      imagePath: req.path,
      workPath: options.workPath,
      exit: options.exit,
      openTcp: options.openTcp,
      externalUnixSockets: options.externalUnixSockets,
      terminal: options.terminal,
      fileLocks: options.fileLocks,
      emptyNamespaces: options.emptyNamespaces,
    });
    return {};
  }

  async kill(req: KillRequest): Promise<Empty> {
    await this.container(req.id).kill(req.execId, req.signal, req.all);
    return {};
  }

  async exec(req: ExecProcessRequest): Promise<Empty> {
    const container = this.container(req.id);
    const spec = decodeJson(req.spec, 'exec process spec');
    if (!Array.isArray(spec['args']) || spec['args'].length === 0) throw invalidArgument('exec process spec: args must not be empty');
    const badStdio = stdioProblem(req);
    if (badStdio) throw invalidArgument(badStdio);
    container.addExec(req.execId, spec as never, { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal });
    this.deps.publisher.publish(TOPICS.execAdded, () => packEvent(TaskExecAddedSchema, { containerId: req.id, execId: req.execId }));
    return {};
  }

  async resizePty(req: ResizePtyRequest): Promise<Empty> {
    this.container(req.id).resizePty(req.execId, req.width, req.height);
    return {};
  }

  /** Synchronous on purpose: the ttrpc server then answers in the same turn (containerd asks often). */
  state(req: StateRequest): MessageInitShape<typeof StateResponseSchema> {
    const s = this.container(req.id).state(req.execId);
    return {
      id: s.id,
      bundle: s.bundle,
      pid: s.pid,
      status: STATUS_OF[s.status],
      stdin: s.stdio.stdin,
      stdout: s.stdio.stdout,
      stderr: s.stdio.stderr,
      terminal: s.stdio.terminal,
      exitStatus: s.exit?.exitStatus ?? 0,
      exitedAt: exitTime(s.exit?.exitedAt),
    };
  }

  async closeIO(req: CloseIORequest): Promise<Empty> {
    await this.container(req.id).closeIO(req.execId);
    return {};
  }

  async update(req: UpdateTaskRequest): Promise<Empty> {
    const container = this.container(req.id);
    await container.update(decodeJson(req.resources, 'resources'));
    return {};
  }

  async wait(req: WaitRequest): Promise<MessageInitShape<typeof WaitResponseSchema>> {
    const exit = await this.container(req.id).wait(req.execId);
    return { exitStatus: exit.exitStatus, exitedAt: exitTime(exit.exitedAt) };
  }

  async stats(req: StatsRequest): Promise<MessageInitShape<typeof StatsResponseSchema>> {
    const container = this.container(req.id);
    return { stats: await readContainerStats(container.cgroups) };
  }

  async connect(req: ConnectRequest): Promise<MessageInitShape<typeof ConnectResponseSchema>> {
    return { shimPid: process.pid, taskPid: this.containers.get(req.id)?.pid ?? 0 };
  }

  async shutdown(_req: ShutdownRequest): Promise<Empty> {
    if (!this.busy) {
      // Reply first; the daemon tears down on the next turn of the loop.
      setImmediate(this.deps.requestShutdown);
    }
    return {};
  }

  /** Kills and deletes every container (SIGTERM to the daemon). */
  async destroyAll(): Promise<void> {
    for (const [id, container] of this.containers) {
      await container.kill('', 9, true).catch(() => undefined);
      await container.wait('').catch(() => undefined);
      await container.delete('').catch(() => undefined);
      this.containers.delete(id);
    }
  }
}
