// Talking to a shim directly over its ttrpc socket, for what ctr 1.6 cannot show: Connect's
// shim_pid (which daemon serves a task), and calls ctr has no command for (Update).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TtrpcClient } from '../../../src/ttrpc/index.js';
import { Task } from '../../../src/api/containerd/task/v2/shim_pb.js';
import type { ContainerdPaths } from './containerd.js';

/** The bundle containerd made for task `id` in `namespace`. */
export function bundleDir(cd: ContainerdPaths, namespace: string, id: string): string {
  return path.join(cd.state, 'io.containerd.runtime.v2.task', namespace, id);
}

/** The socket path in the task's `address` file (what containerd dials). */
export function shimSocket(cd: ContainerdPaths, namespace: string, id: string): string {
  const address = readFileSync(path.join(bundleDir(cd, namespace, id), 'address'), 'utf8');
  return address.startsWith('unix://') ? address.slice('unix://'.length) : address;
}

/** Connects to the shim serving task `id`, runs `fn`, and always closes the connection. */
export async function withShim<T>(cd: ContainerdPaths, namespace: string, id: string, fn: (client: TtrpcClient) => Promise<T>): Promise<T> {
  const client = await TtrpcClient.connect(shimSocket(cd, namespace, id), { timeoutMs: 5_000 });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** Connect's answer for task `id`: the serving daemon's pid and the task's pid. */
export async function shimConnect(cd: ContainerdPaths, namespace: string, id: string): Promise<{ shimPid: number; taskPid: number }> {
  return withShim(cd, namespace, id, async (client) => {
    const r = await client.call(Task.method.connect, { id });
    return { shimPid: r.shimPid, taskPid: r.taskPid };
  });
}

export { Task as TaskService };
