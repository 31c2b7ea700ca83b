/**
 * Process-related calls Node lacks: becoming a child subreaper, reaping one specific pid without
 * blocking, and pidfd_open. Reaping is by pid only: libuv reaps the children it spawned itself and
 * a blind waitpid(-1) would steal their statuses (see docs/native.md).
 */
import { koffi, lastErrno, libc, type NativeFunction } from './libc.js';
import { SysError } from './errors.js';

const PR_SET_CHILD_SUBREAPER = 36;
const PR_GET_CHILD_SUBREAPER = 37;
const SYS_PIDFD_OPEN = 434;
const WNOHANG = 1;
const EINTR = 4;

let fns: { prctl: NativeFunction; waitpid: NativeFunction; syscall: NativeFunction } | undefined;

function bindings(): NonNullable<typeof fns> {
  fns ??= {
    prctl: libc().func('int prctl(int option, ...)'),
    waitpid: libc().func('int waitpid(int pid, _Out_ int *status, int options)'),
    syscall: libc().func('long syscall(long number, ...)'),
  };
  return fns;
}

/**
 * Makes this process a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER, 1)`): orphans below it
 * (the container init once `runtime create` exits) are re-parented here, not to pid 1.
 */
export function setChildSubreaper(enabled = true): void {
  const u = 'unsigned long';
  const rc = bindings().prctl(PR_SET_CHILD_SUBREAPER, u, enabled ? 1 : 0, u, 0, u, 0, u, 0) as number;
  if (rc !== 0) throw new SysError('prctl', lastErrno(), 'PR_SET_CHILD_SUBREAPER');
}

/** Whether this process is a child subreaper now. */
export function isChildSubreaper(): boolean {
  const k = koffi();
  const out = k.alloc('int', 1) as unknown;
  try {
    const u = 'unsigned long';
    const rc = bindings().prctl(PR_GET_CHILD_SUBREAPER, 'void *', out, u, 0, u, 0, u, 0) as number;
    if (rc !== 0) throw new SysError('prctl', lastErrno(), 'PR_GET_CHILD_SUBREAPER');
    return (k.decode(out, 'int') as number) !== 0;
  } finally {
    k.free(out);
  }
}

/** How a reaped process ended. */
export interface WaitStatus {
  readonly pid: number;
  /** Exit code, or 128 + signal number when a signal killed it (the reference's convention). */
  readonly exitStatus: number;
  /** The terminating signal number, when killed by a signal. */
  readonly signal: number | undefined;
  /** The raw status word waitpid returned. */
  readonly raw: number;
}

/** Decodes a waitpid status word (WIFEXITED/WTERMSIG) into the exit status convention above. */
export function decodeWaitStatus(pid: number, raw: number): WaitStatus {
  const termSig = raw & 0x7f;
  if (termSig === 0) return { pid, exitStatus: (raw >> 8) & 0xff, signal: undefined, raw };
  return { pid, exitStatus: 128 + termSig, signal: termSig, raw };
}

/**
 * `waitpid(pid, WNOHANG)`: the status if `pid` (a child of ours) has exited and is now reaped,
 * `undefined` if it is still running. Throws SysError (ECHILD) when `pid` is not our child or was
 * already reaped.
 */
export function reapPid(pid: number): WaitStatus | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new RangeError(`reapPid: invalid pid ${pid}`);
  const status = [0];
  for (;;) {
    const rc = bindings().waitpid(pid, status, WNOHANG) as number;
    if (rc === pid) return decodeWaitStatus(pid, status[0]!);
    if (rc === 0) return undefined;
    const errno = lastErrno();
    if (errno === EINTR) continue;
    throw new SysError('waitpid', errno, String(pid));
  }
}

/**
 * `pidfd_open(pid, 0)`: a file descriptor that refers to the process and becomes readable when
 * it exits (Linux ≥ 5.3). The caller owns the fd and must close it.
 */
export function pidfdOpen(pid: number): number {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new RangeError(`pidfdOpen: invalid pid ${pid}`);
  const fd = Number(bindings().syscall(SYS_PIDFD_OPEN, 'int', pid, 'unsigned int', 0) as number | bigint);
  if (fd < 0) throw new SysError('pidfd_open', lastErrno(), String(pid));
  return fd;
}
