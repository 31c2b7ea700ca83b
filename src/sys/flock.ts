/**
 * flock(2) advisory locks. The shim's `start` actions serialise on the socket directory with one,
 * so two containers starting at once cannot both decide that no daemon exists and bind the same
 * socket path. A lock dies with its process, so a crashed holder never leaves a stale lock behind.
 */
import { lastErrno, libc, type NativeFunction } from './libc.js';
import { SysError } from './errors.js';

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EWOULDBLOCK = 11;
const EINTR = 4;

let flockFn: NativeFunction | undefined;

function flock(fd: number, operation: number): number {
  flockFn ??= libc().func('int flock(int fd, int operation)');
  return flockFn(fd, operation) as number;
}

/** Takes an exclusive lock on `fd` without blocking; false when another holder has it. */
export function tryLockExclusive(fd: number): boolean {
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const errno = lastErrno();
    if (errno === EINTR) continue;
    if (errno === EWOULDBLOCK) return false;
    throw new SysError('flock', errno);
  }
}

/** Releases a lock taken with {@link tryLockExclusive} (closing the fd releases it too). */
export function unlockFile(fd: number): void {
  if (flock(fd, LOCK_UN) !== 0) throw new SysError('flock', lastErrno());
}
