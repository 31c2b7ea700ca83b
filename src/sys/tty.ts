/**
 * The pty ioctls the stdio layer needs: window size (ResizePty) and bytes pending on a master
 * (to know when a console is drained after its process exited). Plus `openPty()`, a pty pair
 * made here, for tests and tools that need a terminal without a runtime.
 */
import { closeSync } from 'node:fs';
import { libc, lastErrno } from './libc.js';
import { SysCallError } from './pipes.js';

/** ioctl requests (asm-generic/ioctls.h; the same on x86_64 and arm64). */
const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;
const FIONREAD = 0x541b;
const TCGETS = 0x5401;

const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_CLOEXEC = 0o2000000;

interface TtyFns {
  ioctl: (fd: number, request: number, ...args: unknown[]) => number;
  posixOpenpt: (flags: number) => number;
  grantpt: (fd: number) => number;
  unlockpt: (fd: number) => number;
  ptsname: (fd: number) => string | null;
}

let fns: TtyFns | undefined;

function native(): TtyFns {
  if (fns) return fns;
  const lib = libc();
  fns = {
    ioctl: lib.func('int ioctl(int fd, unsigned long request, ...)') as TtyFns['ioctl'],
    posixOpenpt: lib.func('int posix_openpt(int flags)') as TtyFns['posixOpenpt'],
    grantpt: lib.func('int grantpt(int fd)') as TtyFns['grantpt'],
    unlockpt: lib.func('int unlockpt(int fd)') as TtyFns['unlockpt'],
    ptsname: lib.func('const char *ptsname(int fd)') as TtyFns['ptsname'],
  };
  return fns;
}

function check(syscall: string, rc: number): number {
  if (rc < 0) throw new SysCallError(syscall, lastErrno());
  return rc;
}

/** A terminal window size in character cells. */
export interface WindowSize {
  readonly columns: number;
  readonly rows: number;
}

/** ioctl(TIOCSWINSZ): sets the window size; the foreground process group gets SIGWINCH. */
export function setWindowSize(fd: number, size: WindowSize): void {
  // struct winsize { ws_row, ws_col, ws_xpixel, ws_ypixel } — four unsigned shorts.
  const ws = new Uint16Array([size.rows & 0xffff, size.columns & 0xffff, 0, 0]);
  check('ioctl(TIOCSWINSZ)', native().ioctl(fd, TIOCSWINSZ, 'uint16_t *', ws));
}

/** ioctl(TIOCGWINSZ): the current window size. */
export function getWindowSize(fd: number): WindowSize {
  const ws = new Uint16Array(4);
  check('ioctl(TIOCGWINSZ)', native().ioctl(fd, TIOCGWINSZ, 'uint16_t *', ws));
  return { rows: ws[0]!, columns: ws[1]! };
}

/** ioctl(FIONREAD): bytes that a read(2) of `fd` would return right now. */
export function bytesReadable(fd: number): number {
  const n = new Int32Array(1);
  check('ioctl(FIONREAD)', native().ioctl(fd, FIONREAD, 'int *', n));
  return n[0]!;
}

/** Whether `fd` is a terminal (TCGETS succeeds), as the reference checks a received pty master. */
export function isTerminal(fd: number): boolean {
  const termios = new Uint8Array(64); // struct termios is 60 bytes on Linux
  return native().ioctl(fd, TCGETS, 'uint8_t *', termios) === 0;
}

/** A new pty: the master fd (O_RDWR, close-on-exec; the caller closes it) and the slave's path. */
export interface PtyPair {
  readonly master: number;
  readonly slavePath: string;
}

/** posix_openpt + grantpt + unlockpt + ptsname. */
export function openPty(): PtyPair {
  const f = native();
  const master = check('posix_openpt', f.posixOpenpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  try {
    check('grantpt', f.grantpt(master));
    check('unlockpt', f.unlockpt(master));
    const slavePath = f.ptsname(master);
    if (slavePath === null) throw new SysCallError('ptsname', lastErrno());
    return { master, slavePath };
  } catch (err) {
    closeQuietly(master);
    throw err;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing more to do for an fd we failed to set up
  }
}
