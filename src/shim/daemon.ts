/**
 * The long-lived shim daemon: child subreaper, ttrpc server on the socket `start` handed over as
 * fd 3, the Task service, the event publisher, logging into the bundle's `log` fifo, and an orderly
 * exit when no task is left (Shutdown RPC, idle timeout of a shared daemon, SIGTERM/SIGINT).
 */
import { closeSync, constants, existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Task } from '../api/containerd/task/v2/shim_pb.js';
import { ProcessMonitor } from '../runtime/index.js';
import { peerCredentials, tryLockExclusive } from '../sys/index.js';
import { Code, isThenable, TtrpcServer } from '../ttrpc/index.js';
import { claimMarkerPath, socketFromAddress, warmMarkerPath } from './address.js';
import { loadHostConfig } from './config-file.js';
import { DaemonLogger, RUNTIME_NAME } from './logger.js';
import { installMemoryDebugHook } from './memory-debug.js';
import { sealedRuncWanted } from './options.js';
import { TtrpcEventPublisher } from './publisher.js';
import { toTtrpcError } from './status-mapping.js';
import { TaskService } from './task-service.js';

export interface DaemonParams {
  readonly namespace: string;
  readonly id: string;
  readonly debug: boolean;
  /** Serve on this path instead of the inherited fd 3 (`-socket`). */
  readonly socket: string;
  readonly ttrpcAddress: string;
}

/** The Task methods, by protobuf-es local name. */
const TASK_METHODS = [
  'state', 'create', 'start', 'delete', 'pids', 'pause', 'resume', 'checkpoint', 'kill', 'exec',
  'resizePty', 'closeIO', 'update', 'wait', 'stats', 'connect', 'shutdown',
] as const;

type Handler = (req: never) => unknown;

/** Codes that mean the request was refused as asked (the caller's problem), not that a step failed. */
const REFUSALS: ReadonlySet<Code> = new Set([Code.InvalidArgument, Code.NotFound, Code.AlreadyExists, Code.FailedPrecondition, Code.Unimplemented]);

/**
 * Wraps every method so that thrown errors leave as ttrpc statuses with containerd's classes, and
 * logs each call into the task's own log: a debug line per call (with -debug), and an error line
 * naming the task and the failing method when a step failed. Refusals (not found, wrong state…)
 * stay at debug: containerd makes some of them routinely (Delete after a failed Create). A method
 * that answers synchronously (State) stays synchronous, so the server replies in the same turn.
 */
function withStatusMapping(service: TaskService): Record<string, Handler> {
  const wrapped: Record<string, Handler> = {};
  for (const name of TASK_METHODS) {
    const method = (service[name] as Handler).bind(service);
    const rpc = name.charAt(0).toUpperCase() + name.slice(1);
    wrapped[name] = (req: never) => {
      const { id, execId } = req as { id?: string; execId?: string };
      const fields = { id, exec_id: execId || undefined, method: rpc };
      const failed = (err: unknown): never => {
        const status = toTtrpcError(err);
        const log = service.logFor(id ?? '');
        // Create logs its own failure (with the step); do not say it twice.
        if (REFUSALS.has(status.code) || name === 'create') log.debug('task request refused', { ...fields, error: status.message });
        else log.error(`${rpc} failed`, { ...fields, error: status.message });
        throw status;
      };
      const answered = (reply: unknown): unknown => {
        if (name === 'create') service.logFor(id ?? '').debug('task request', fields);
        return reply;
      };
      // Logged before the call (Delete closes the task's log), except Create, whose log opens in the call.
      if (name !== 'create') service.logFor(id ?? '').debug('task request', fields);
      let reply: unknown;
      try {
        reply = method(req);
      } catch (err) {
        return failed(err);
      }
      return isThenable(reply) ? reply.then(answered, failed) : answered(reply);
    };
  }
  return wrapped;
}

/** How long a start's claim keeps an idle shared daemon from exiting when no Create follows it. */
const CLAIM_TTL_MS = 30_000;

/**
 * Whether a `start` picked this daemon after its last Create (`lastCreateAt`, ms since the epoch)
 * and its Create has not arrived yet. File mtimes are the same realtime clock as Date.now() (the
 * kernel's coarse copy of it, a tick behind at most, which errs towards "arrived": the grace after
 * withdrawal covers that tick). A claim older than CLAIM_TTL_MS is a start whose Create never came.
 */
export function claimPending(claimMtimeMs: number | undefined, lastCreateAt: number, now = Date.now()): boolean {
  return claimMtimeMs !== undefined && claimMtimeMs > lastCreateAt && now - claimMtimeMs < CLAIM_TTL_MS;
}

function claimMtime(claim: string): number | undefined {
  try {
    return statSync(claim).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Removes the warm marker, so a `start` never sees the marker, decides to reuse us, and then finds
 * us gone. Under the `start` actions' socket-directory lock, which the Node `start` holds while it
 * looks and claims. The launcher's fast path takes no lock: it claims *before* its deciding read of
 * the marker, and we look at the claim *after* removing the marker, so any start that saw the
 * marker has claimed by then. `locked`: a start holds the lock, try again soon; `claimed`: a start
 * picked us and its Create is still to come, so the marker stays (or is put back).
 */
function withdrawMarker(marker: string, claim: string, lastCreateAt: number): 'withdrawn' | 'locked' | 'claimed' {
  let fd: number | undefined;
  try {
    fd = openSync(path.dirname(marker), constants.O_RDONLY | constants.O_DIRECTORY);
    if (!tryLockExclusive(fd)) return 'locked';
    if (claimPending(claimMtime(claim), lastCreateAt)) return 'claimed';
    const pid = readFileSync(marker, 'utf8');
    rmSync(marker, { force: true });
    if (claimPending(claimMtime(claim), lastCreateAt)) {
      // A fast-path start claimed between the two looks; it may have seen the marker.
      writeFileSync(marker, pid, { mode: 0o600 });
      return 'claimed';
    }
    return 'withdrawn';
  } catch {
    rmSync(marker, { force: true });
    return 'withdrawn';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Grace between withdrawing the warm marker and exiting, for a `start` that just picked us. */
const IDLE_GRACE_MS = 2000;

export async function runDaemon(params: DaemonParams): Promise<void> {
  if (params.namespace === '') throw new Error('shim namespace cannot be empty');
  const host = loadHostConfig();
  const shared = host.grouping === 'namespace';
  const log = new DaemonLogger(params.debug, { namespace: params.namespace, pid: process.pid, runtime: RUNTIME_NAME });
  const monitor = ProcessMonitor.get();
  const publisher = new TtrpcEventPublisher({ address: params.ttrpcAddress, namespace: params.namespace, log });
  let socket: string | undefined = params.socket || undefined;
  try {
    socket ??= socketFromAddress(readFileSync(path.join(process.cwd(), 'address'), 'utf8').trim());
  } catch {
    // started by hand without an address file
  }
  // `start` runs us in the first task's bundle; every later bundle of the namespace is its sibling.
  const bundleParent = !params.socket && existsSync(path.join(process.cwd(), 'address')) ? path.dirname(process.cwd()) : undefined;
  const marker = shared && socket ? warmMarkerPath(socket) : undefined;
  const claim = shared && socket ? claimMarkerPath(socket) : undefined;
  /** When the last Create reached us (ms since the epoch): claims older than it were served. */
  let lastCreateAt = 0;
  if (shared) {
    // The first task's bundle is removed long before a shared daemon exits; do not hold it as cwd.
    process.chdir('/');
  }

  let shuttingDown = false;
  const server = new TtrpcServer({
    peerCredentials,
    onError: (err) => log.debug('ttrpc', { error: String(err) }),
  });
  const shutdown = async (exitCode: number): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info('shutting down');
    if (marker) rmSync(marker, { force: true });
    if (claim) rmSync(claim, { force: true });
    await publisher.close(5000);
    if (socket) rmSync(socket, { force: true });
    await server.close();
    process.exit(exitCode);
  };

  let idleTimer: NodeJS.Timeout | undefined;
  const writeMarker = (): void => {
    if (marker) writeFileSync(marker, String(process.pid), { mode: 0o600 });
  };
  const idleCheck = (): void => {
    idleTimer = undefined;
    if (service.busy) return;
    const withdrawal = marker && claim ? withdrawMarker(marker, claim, lastCreateAt) : 'withdrawn';
    if (withdrawal === 'locked') {
      // A `start` holds the socket-directory lock and may be about to pick us: look again soon.
      idleTimer = setTimeout(idleCheck, 100);
      return;
    }
    if (withdrawal === 'claimed') {
      // A `start` picked us and its Create is on the way (it cancels this timer): stay warm.
      idleTimer = setTimeout(idleCheck, 500);
      return;
    }
    setTimeout(() => {
      // A claim that came after the withdrawal belongs to a start now waiting (full path) for us
      // to exit or re-warm: re-warming serves it sooner than a new daemon would.
      if (service.busy || server.activeConnections > 0 || (claim !== undefined && claimPending(claimMtime(claim), lastCreateAt))) {
        writeMarker();
        armIdle();
        return;
      }
      void shutdown(0);
    }, IDLE_GRACE_MS).unref();
  };
  const armIdle = (): void => {
    if (idleTimer || shuttingDown) return;
    idleTimer = setTimeout(idleCheck, host.idleExitSeconds * 1000);
  };

  const service: TaskService = new TaskService({
    namespace: params.namespace,
    ...(bundleParent !== undefined ? { bundleParent } : {}),
    sealedRuntimeCopy: sealedRuncWanted(shared),
    monitor,
    publisher,
    log,
    followTaskLog: (taskLog) => log.follow(taskLog),
    debug: params.debug,
    requestShutdown: () => {
      // A task or pod daemon ends with its last task, like the reference; a shared one lingers.
      if (shared) armIdle();
      else void shutdown(0);
    },
    onBusy: () => {
      lastCreateAt = Date.now();
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = undefined;
    },
  });
  server.register(Task, withStatusMapping(service) as never);

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log.info('received signal, killing tasks', { signal });
      void service.destroyAll().finally(() => void shutdown(0));
    });
  }
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception', { error: err.stack ?? String(err) });
  });
  process.on('unhandledRejection', (err) => {
    log.error('unhandled rejection', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  });

  // Opt-in (an env var): SIGUSR2 → GC, memory numbers and a heap snapshot (memory-debug.ts).
  const debugDir = installMemoryDebugHook(process.env, (err) => log.warn('memory debug hook failed', { error: String(err) }));
  if (debugDir) log.info('memory debug hook enabled', { dir: debugDir });

  if (params.socket) await server.listen(params.socket);
  else await server.listenFd(3);
  writeMarker();
  // Until the first Create arrives, an unused daemon must not live forever.
  if (shared) armIdle();
  log.info('starting signal loop', { id: params.id, path: process.cwd(), grouping: host.grouping });
}
