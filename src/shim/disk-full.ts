// Naming a full file system in a failed create. runc 1.1 loses the ENOSPC it hits while saving
// its state (it reports `unable to store init state: %!w(<nil>)`), so without this hint the user
// would not learn that the disk is the problem. Checked only after a failure, so it costs nothing
// on the normal path.
import { statfsSync } from 'node:fs';
import { ProcessError } from '../process/index.js';

/** The first of `dirs` whose file system has no block left for an unprivileged writer, if any. */
export function fullFileSystem(dirs: readonly (string | undefined)[]): string | undefined {
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      if (statfsSync(dir).bavail === 0) return dir;
    } catch {
      // gone or unreadable: nothing to say about its space
    }
  }
  return undefined;
}

/**
 * `err` with `: <what> <dir>: no space left on device (ENOSPC)` appended when one of `dirs` is on a
 * full file system and the message does not say so already; otherwise `err` itself. The error's
 * kind (and so its class on the wire) is kept.
 */
export function withDiskFullHint(err: unknown, dirs: readonly { what: string; dir: string | undefined }[]): unknown {
  if (!(err instanceof Error) || /no space left on device|ENOSPC/i.test(err.message)) return err;
  const full = fullFileSystem(dirs.map((d) => d.dir));
  if (full === undefined) return err;
  const what = dirs.find((d) => d.dir === full)?.what ?? 'directory';
  const message = `${err.message}: ${what} ${full}: no space left on device (ENOSPC)`;
  if (err instanceof ProcessError) return new ProcessError(err.kind, message, { cause: err });
  err.message = message;
  return err;
}
