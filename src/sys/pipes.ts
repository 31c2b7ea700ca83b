/**
 * Anonymous pipes, fifos and the fd flags Node has no API for.
 *
 * Node cannot create a pipe(2): child_process's `'pipe'` gives AF_UNIX socketpairs, on which a
 * container's `echo x > /dev/stdout` fails with ENXIO. The stdio layer therefore makes real pipes
 * here and hands their fds to the runtime command.
 */
import { libc, lastErrno } from './libc.js';
import { constants as osConstants } from 'node:os';

/** Linux fcntl commands and flags (asm-generic values, identical on x86_64 and arm64). */
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_GETFL = 3;
const F_SETFL = 4;
const F_SETPIPE_SZ = 1031;
const F_DUPFD_CLOEXEC = 1030;
const F_GETPIPE_SZ = 1032;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

/** splice(2) flag: do not block on the pipes (the fds may still be blocking). */
export const SPLICE_F_NONBLOCK = 2;
/** splice(2) flag: a hint to move pages rather than copy them. */
export const SPLICE_F_MOVE = 1;

/** A failed system call, with the errno name node's own errors use (`EAGAIN`, `ENXIO`…). */
export class SysCallError extends Error {
  override readonly name = 'SysCallError';
  /** e.g. `EBADF`. */
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
  ) {
    const code = errnoName(errno);
    super(`${syscall}: ${code} (errno ${errno})`);
    this.code = code;
  }
}

/** The symbolic name of an errno value (`EAGAIN`), or `E<number>` if node does not know it. */
export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(osConstants.errno)) {
    if (value === errno) return name;
  }
  return `E${errno}`;
}

interface PipeFns {
  pipe2: (fds: Int32Array, flags: number) => number;
  fcntl: (fd: number, cmd: number, ...args: unknown[]) => number;
  mkfifo: (path: string, mode: number) => number;
  splice: (fdIn: number, offIn: null, fdOut: number, offOut: null, len: number, flags: number) => number | bigint;
}

let fns: PipeFns | undefined;

function native(): PipeFns {
  if (fns) return fns;
  const lib = libc();
  fns = {
    pipe2: lib.func('int pipe2(int *fds, int flags)') as PipeFns['pipe2'],
    fcntl: lib.func('int fcntl(int fd, int cmd, ...)') as PipeFns['fcntl'],
    mkfifo: lib.func('int mkfifo(const char *path, uint32_t mode)') as PipeFns['mkfifo'],
    splice: lib.func('intptr_t splice(int fdIn, void *offIn, int fdOut, void *offOut, size_t len, uint32_t flags)') as PipeFns['splice'],
  };
  return fns;
}

function check(syscall: string, rc: number): number {
  if (rc < 0) throw new SysCallError(syscall, lastErrno());
  return rc;
}

/** The two ends of an anonymous pipe. The caller owns both fds and must close them. */
export interface PipeFds {
  /** Read end. */
  readonly read: number;
  /** Write end. */
  readonly write: number;
}

/**
 * pipe2(O_CLOEXEC): a real kernel pipe. Close-on-exec keeps stray children from inheriting it;
 * child_process dup2()s the fds it is told to pass, which clears the flag on the child's copy.
 */
export function createPipe(): PipeFds {
  const fds = new Int32Array(2);
  check('pipe2', native().pipe2(fds, O_CLOEXEC));
  return { read: fds[0]!, write: fds[1]! };
}

/** mkfifo(path, mode) (the umask applies, as with mkfifo(3)). */
export function mkfifo(path: string, mode = 0o600): void {
  check('mkfifo', native().mkfifo(path, mode));
}

/**
 * Sets or clears O_NONBLOCK on the open file description behind `fd`. The flag is shared by every
 * dup of it — never set it on a description a container also holds.
 */
export function setNonBlocking(fd: number, on: boolean): void {
  const f = native();
  const flags = check('fcntl(F_GETFL)', f.fcntl(fd, F_GETFL));
  const next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (next !== flags) check('fcntl(F_SETFL)', f.fcntl(fd, F_SETFL, 'int', next));
}

/** Whether O_NONBLOCK is set on `fd`. */
export function isNonBlocking(fd: number): boolean {
  return (check('fcntl(F_GETFL)', native().fcntl(fd, F_GETFL)) & O_NONBLOCK) !== 0;
}

/**
 * F_SETPIPE_SZ: asks for a pipe buffer of `bytes` (rounded up by the kernel to a power-of-two
 * number of pages). Returns the size granted. Unprivileged callers are capped by
 * /proc/sys/fs/pipe-max-size (EPERM above it).
 */
export function setPipeSize(fd: number, bytes: number): number {
  return check('fcntl(F_SETPIPE_SZ)', native().fcntl(fd, F_SETPIPE_SZ, 'int', bytes));
}

/** Sets FD_CLOEXEC on an fd this process inherited, so the programs it starts do not inherit it too. */
export function setCloseOnExec(fd: number): void {
  check('fcntl(F_SETFD)', native().fcntl(fd, F_SETFD, 'int', FD_CLOEXEC));
}

/** F_DUPFD_CLOEXEC: a second fd (close-on-exec) for the same open file description. */
export function dupCloseOnExec(fd: number): number {
  return check('fcntl(F_DUPFD_CLOEXEC)', native().fcntl(fd, F_DUPFD_CLOEXEC, 'int', 3));
}

/** F_GETPIPE_SZ: the pipe's buffer size in bytes. */
export function getPipeSize(fd: number): number {
  return check('fcntl(F_GETPIPE_SZ)', native().fcntl(fd, F_GETPIPE_SZ));
}

/**
 * splice(2) up to `len` bytes from `fdIn` to `fdOut` (one must be a pipe or fifo) without copying
 * through user space. Returns the bytes moved, 0 at EOF of `fdIn`, or -1 when the call would block
 * (EAGAIN); other errors throw.
 */
export function splice(fdIn: number, fdOut: number, len: number, flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK): number {
  const rc = Number(native().splice(fdIn, null, fdOut, null, len, flags));
  if (rc >= 0) return rc;
  const errno = lastErrno();
  if (errno === osConstants.errno.EAGAIN) return -1;
  throw new SysCallError('splice', errno);
}
