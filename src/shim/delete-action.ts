/**
 * `containerd-shim-ts-v2 … -bundle B delete`: containerd runs this after every loss of the shim
 * connection (normal teardown included), so it must be idempotent and quick (5 s budget). It makes
 * sure the container is gone, unmounts the rootfs, removes a dead daemon's socket, and prints a
 * DeleteResponse (exit status 137, like the reference).
 */
import { closeSync, constants, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { DeleteResponseSchema } from '../api/containerd/task/v2/shim_pb.js';
import { timestampFromDate } from '../api/typeurl.js';
import { unmountAll } from '../process/index.js';
import { OciRuntime, type RuntimeConfig } from '../runtime/index.js';
import { claimMarkerPath, socketFromAddress, warmMarkerPath } from './address.js';
import { tryLockExclusive } from '../sys/index.js';
import { removeRunscPodRoot } from './runsc-root.js';

export interface DeleteParams {
  readonly id: string;
  readonly bundle: string;
}

function readPid(bundle: string): number {
  try {
    const pid = Number.parseInt(readFileSync(path.join(bundle, 'init.pid'), 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
  } catch {
    return 0;
  }
}

function socketAlive(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    const done = (alive: boolean): void => {
      conn.destroy();
      resolve(alive);
    };
    conn.once('connect', () => done(true));
    conn.once('error', () => done(false));
    setTimeout(() => done(false), 200).unref();
  });
}

/**
 * Removes a dead daemon's socket, warm marker and claim, under the `start` actions' directory lock and
 * after looking again, so a daemon that a concurrent `start` just bound on the same path survives.
 */
async function removeDeadSocket(socket: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = openSync(path.dirname(socket), constants.O_RDONLY | constants.O_DIRECTORY);
    for (let waited = 0; !tryLockExclusive(fd); waited += 10) {
      if (waited > 2000) return; // busy: leave it for the next start, which replaces stale sockets
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (await socketAlive(socket)) return;
    rmSync(socket, { force: true });
    rmSync(warmMarkerPath(socket), { force: true });
    rmSync(claimMarkerPath(socket), { force: true });
  } catch {
    // no socket directory: nothing to remove
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Runs the delete action; returns the serialized DeleteResponse and any warnings for stderr. */
export async function runDelete(params: DeleteParams): Promise<{ response: Uint8Array; warnings: string[] }> {
  const warnings: string[] = [];
  let config: RuntimeConfig | undefined;
  try {
    config = JSON.parse(readFileSync(path.join(params.bundle, 'shim-runtime.json'), 'utf8')) as RuntimeConfig;
  } catch {
    config = undefined; // Create never ran: there is no runtime container to remove.
  }
  if (config) {
    try {
      await new OciRuntime(config).delete(params.id, { force: true });
    } catch (err) {
      warnings.push(`failed to remove runc container: ${(err as Error).message}`);
    }
    removeRunscPodRoot(config.root, params.bundle, params.id);
  }
  try {
    unmountAll(path.join(params.bundle, 'rootfs'));
  } catch (err) {
    warnings.push((err as Error).message);
  }
  // A daemon that died leaves its socket behind; a live one (grouped, serving others) keeps it.
  try {
    const socket = socketFromAddress(readFileSync(path.join(params.bundle, 'address'), 'utf8').trim());
    if (socket && !(await socketAlive(socket))) await removeDeadSocket(socket);
  } catch {
    // no address file
  }
  const response = toBinary(
    DeleteResponseSchema,
    create(DeleteResponseSchema, { pid: readPid(params.bundle), exitStatus: 137, exitedAt: timestampFromDate(new Date()) }),
  );
  return { response, warnings };
}
