/**
 * A runsc state root per pod. runsc 20221219 resolves every container id by prefix and refuses an
 * id that is a prefix of another container's id in the same root — even when the exact id exists
 * (`loading container: id "c-1" is ambiguous …` while `c-1`, `c-10` and `c-11` exist) — and acts on
 * the longer one when the exact id is gone. Containers of different pods never need to see each
 * other, so giving each pod (or lone container) its own root below `<root>/<namespace>` removes
 * the neighbours runsc could confuse; the containers of one pod still share the root their sandbox
 * is found in. Decided by what `--version` prints, like every runsc decision.
 */
import { readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import type { RuntimeSettings } from '../process/index.js';
import { OciRuntime } from '../runtime/index.js';

/** Annotations naming the sandbox (pod) a container joins, gVisor's first. */
const SANDBOX_ANNOTATIONS = ['dev.gvisor.spec.sandbox-id', 'io.kubernetes.cri.sandbox-id', 'io.containerd.runc.v2.group'] as const;

/** The pod key of the container in `bundle`: its sandbox's id, or its own id. */
export function runscRootKey(bundle: string, id: string): string {
  try {
    const spec = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
    for (const key of SANDBOX_ANNOTATIONS) {
      const value = spec.annotations?.[key];
      if (value && !value.includes('/') && value !== '.' && value !== '..') return value;
    }
  } catch {
    // unreadable spec: the container is its own pod
  }
  return id;
}

/** `settings` with the root moved to `<root>/<pod key>` when the binary is runsc. */
export async function withRunscPodRoot(settings: RuntimeSettings, bundle: string, id: string): Promise<RuntimeSettings> {
  const kind = await new OciRuntime(settings.config).kind();
  if (kind !== 'runsc' || !settings.config.root) return settings;
  return { ...settings, config: { ...settings.config, root: path.join(settings.config.root, runscRootKey(bundle, id)) } };
}

/** Removes a pod root once its last container is gone (a non-empty one stays for the others). */
export function removeRunscPodRoot(root: string | undefined, bundle: string, id: string): void {
  if (!root || path.basename(root) !== runscRootKey(bundle, id)) return;
  try {
    rmdirSync(root);
  } catch {
    // other containers of the pod still there, or already removed
  }
}
