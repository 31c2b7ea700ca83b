/**
 * PATH look-up for runtime binaries, cached briefly.
 *
 * Spawning a bare name makes libuv's child walk $PATH with one execve per directory, and the
 * event loop waits for that child to exec (≈3 ms on a busy host with a long PATH, on every
 * `runc create`, `start`, `exec`…). Resolving once and spawning the absolute path skips the walk.
 * The cache lives a few seconds only, so a binary installed earlier in PATH, or removed, is
 * noticed soon; a name that resolves to nothing is passed through unchanged, so the spawn fails
 * with ENOENT exactly as before.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

const TTL_MS = 5000;
const cache = new Map<string, { file: string | undefined; at: number }>();

function lookUp(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(':')) {
    // An empty entry means the working directory, which a spawn resolves itself: do not guess.
    if (dir === '' || !path.isAbsolute(dir)) return undefined;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The absolute file `binary` names on `searchPath` (default: this process's PATH), or undefined
 * when it already holds a slash, or is not found (then spawn the name as given).
 */
export function resolveBinary(binary: string, searchPath: string | undefined = process.env['PATH']): string | undefined {
  if (binary.includes('/') || !searchPath) return undefined;
  const key = `${binary}\0${searchPath}`;
  const now = Date.now();
  const hit = cache.get(key);
  if (hit && now - hit.at < TTL_MS) return hit.file;
  const file = lookUp(binary, searchPath);
  cache.set(key, { file, at: now });
  return file;
}

/** Forgets a resolution (after a spawn of it failed). */
export function forgetBinary(binary: string): void {
  for (const key of cache.keys()) if (key.startsWith(`${binary}\0`)) cache.delete(key);
}
