/** Small helpers for raw file descriptors the stdio objects own. */
import { closeSync } from 'node:fs';

/** Closes `fd` if it is a number, ignoring errors (used on cleanup paths, where EBADF is moot). */
export function closeFd(fd: number | undefined): void {
  if (fd === undefined || fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    // already closed or never valid: nothing left to release
  }
}
