/**
 * Where a shim daemon listens: `/run/containerd/s/<sha256 hex>` of `<containerd address>/<ns>/<key>`
 * (shim-binary.md §4.2), the Go framework's convention, kept so operators find our sockets where
 * they find the reference's. `key` is the task id, or the group key when containers share a daemon.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const SOCKET_DIR = '/run/containerd/s';

/** Annotations that put several containers into one daemon, in the order the reference honours them. */
export const GROUP_ANNOTATIONS = ['io.containerd.runc.v2.group', 'io.kubernetes.cri.sandbox-id'] as const;

/** The socket path for a key (no scheme). */
export function socketPath(containerdAddress: string, namespace: string, key: string): string {
  const digest = createHash('sha256').update(path.posix.join(containerdAddress, namespace, key)).digest('hex');
  return path.posix.join(SOCKET_DIR, digest);
}

/**
 * The key of the daemon every task of a namespace shares in `namespace` grouping. It starts with a
 * dot, which no containerd identifier can, so it never collides with a task id.
 */
export const SHARED_GROUP_KEY = '.ts-shared';

/** The marker a shared daemon keeps next to its socket while it accepts new tasks (holds its pid). */
export function warmMarkerPath(socket: string): string {
  return `${socket}.warm`;
}

/**
 * The claim a `start` leaves next to a shared daemon's socket when it picks that daemon (its mtime
 * is what counts; it holds the claimer's pid). Written under the start lock, shared or exclusive,
 * so the daemon, which withdraws its warm marker under the exclusive lock, never misses a claim
 * made before the withdrawal. Docs: docs/architecture.md, "Shared daemon: start and idle exit".
 */
export function claimMarkerPath(socket: string): string {
  return `${socket}.claim`;
}

/**
 * The grouping key of the container whose bundle is `bundle`: with `pod` grouping a group annotation
 * (else the id), with `namespace` grouping the shared key, with `task` grouping the id.
 */
export function groupKey(bundle: string, id: string, grouping: 'task' | 'pod' | 'namespace' = 'pod'): string {
  if (grouping === 'namespace') return SHARED_GROUP_KEY;
  if (grouping === 'task') return id;
  try {
    const spec = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
    for (const key of GROUP_ANNOTATIONS) {
      const value = spec.annotations?.[key];
      if (value) return value;
    }
  } catch {
    // no readable spec: one daemon per task
  }
  return id;
}

/** `unix:///abs/path` as containerd expects it. */
export function socketAddress(socket: string): string {
  return `unix://${socket}`;
}

/** The socket path inside a `unix://` address, or undefined for other forms. */
export function socketFromAddress(address: string): string | undefined {
  return address.startsWith('unix://') ? address.slice('unix://'.length) : undefined;
}
