/**
 * `containerd-shim-ts-v2 … -bundle B delete`: containerd runs this after every loss of the shim
 * connection (normal teardown included), so it must be idempotent and quick (5 s budget). It makes
 * sure the container is gone, unmounts the rootfs, removes a dead daemon's socket, and prints a
 * DeleteResponse (exit status 137, like the reference).
 */
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { DeleteResponseSchema } from '../api/containerd/task/v2/shim_pb.js';
import { timestampFromDate } from '../api/typeurl.js';
import { unmountAll } from '../process/index.js';
import { OciRuntime, type RuntimeConfig } from '../runtime/index.js';
import { socketFromAddress } from './address.js';

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
  }
  try {
    unmountAll(path.join(params.bundle, 'rootfs'));
  } catch (err) {
    warnings.push((err as Error).message);
  }
  // A daemon that died leaves its socket behind; a live one (grouped, serving others) keeps it.
  try {
    const socket = socketFromAddress(readFileSync(path.join(params.bundle, 'address'), 'utf8').trim());
    if (socket && !(await socketAlive(socket))) rmSync(socket, { force: true });
  } catch {
    // no address file
  }
  const response = toBinary(
    DeleteResponseSchema,
    create(DeleteResponseSchema, { pid: readPid(params.bundle), exitStatus: 137, exitedAt: timestampFromDate(new Date()) }),
  );
  return { response, warnings };
}
