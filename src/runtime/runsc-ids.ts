/**
 * runsc looks containers up by id *prefix* when no container has exactly the id asked for:
 * `runsc delete --force abc1` deletes `abc12` if that is the only match, and fails with
 * `id "abc1" is ambiguous` when `abc12` and `abc13` exist. A shim that sends a verb for a
 * container that is already gone (cleanup after a failed create, the `delete` action, a kill
 * racing an exit) or not yet there would act on a neighbour. So before any verb that names an
 * existing container, the client checks runsc's state directory for that exact id itself.
 */
import { readdirSync } from 'node:fs';

/** runsc's default state root, used when no `--root` is configured. */
export const RUNSC_DEFAULT_ROOT = '/var/run/runsc';

/**
 * Whether runsc's state root holds a container with exactly this id (its state file is
 * `<id>_sandbox:<sandbox id>.state`). Undefined when the root cannot be read (then runsc decides).
 */
export function runscHasContainer(root: string | undefined, id: string): boolean | undefined {
  let names: string[];
  try {
    names = readdirSync(root ?? RUNSC_DEFAULT_ROOT);
  } catch (err) {
    // No root directory at all means no containers; anything else we cannot judge.
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? false : undefined;
  }
  const prefix = `${id}_sandbox:`;
  return names.some((n) => n.startsWith(prefix) && n.endsWith('.state'));
}
