/**
 * The long-lived shim daemon: child subreaper, ttrpc server on the socket `start` handed over as
 * fd 3, the Task service, the event publisher, logging into the bundle's `log` fifo, and an orderly
 * exit when no task is left (Shutdown RPC, idle timeout of a shared daemon, SIGTERM/SIGINT).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Task } from '../api/containerd/task/v2/shim_pb.js';
import { ProcessMonitor } from '../runtime/index.js';
import { peerCredentials } from '../sys/index.js';
import { TtrpcServer } from '../ttrpc/index.js';
import { socketFromAddress, warmMarkerPath } from './address.js';
import { loadHostConfig } from './config-file.js';
import { FdLogger } from './logger.js';
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

type Handler = (req: never) => Promise<unknown>;

/** Wraps every method so that thrown errors leave as ttrpc statuses with containerd's classes. */
function withStatusMapping(service: TaskService): Record<string, Handler> {
  const wrapped: Record<string, Handler> = {};
  for (const name of TASK_METHODS) {
    const method = (service[name] as Handler).bind(service);
    wrapped[name] = async (req: never) => {
      try {
        return await method(req);
      } catch (err) {
        throw toTtrpcError(err);
      }
    };
  }
  return wrapped;
}

/** Grace between withdrawing the warm marker and exiting, for a `start` that just picked us. */
const IDLE_GRACE_MS = 2000;

export async function runDaemon(params: DaemonParams): Promise<void> {
  if (params.namespace === '') throw new Error('shim namespace cannot be empty');
  const host = loadHostConfig();
  const shared = host.grouping === 'namespace';
  const log = new FdLogger(2, params.debug, { namespace: params.namespace, pid: process.pid, runtime: 'io.containerd.ts.v2' });
  const monitor = ProcessMonitor.get();
  const publisher = new TtrpcEventPublisher({ address: params.ttrpcAddress, namespace: params.namespace, log });
  let socket: string | undefined = params.socket || undefined;
  try {
    socket ??= socketFromAddress(readFileSync(path.join(process.cwd(), 'address'), 'utf8').trim());
  } catch {
    // started by hand without an address file
  }
  const marker = shared && socket ? warmMarkerPath(socket) : undefined;
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
    if (marker) rmSync(marker, { force: true });
    setTimeout(() => {
      if (service.busy || server.activeConnections > 0) {
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
    monitor,
    publisher,
    log,
    debug: params.debug,
    requestShutdown: () => {
      // A task or pod daemon ends with its last task, like the reference; a shared one lingers.
      if (shared) armIdle();
      else void shutdown(0);
    },
    onBusy: () => {
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

  if (params.socket) await server.listen(params.socket);
  else await server.listenFd(3);
  writeMarker();
  // Until the first Create arrives, an unused daemon must not live forever.
  if (shared) armIdle();
  log.info('starting signal loop', { id: params.id, path: process.cwd(), grouping: host.grouping });
}
