/**
 * memfd_create(2) and file seals: an anonymous in-memory file that, once sealed, nobody can
 * change. The runtime layer keeps a sealed copy of runc in one (runtime/sealed-binary.ts): runc's
 * `init` re-executes itself from a private copy unless it already runs from a fully sealed memfd.
 */
import { lastErrno, libc, type NativeFunction } from './libc.js';
import { SysError } from './errors.js';

/** memfd_create flags (linux/memfd.h). */
export const MemfdFlags = {
  MFD_CLOEXEC: 0x1,
  MFD_ALLOW_SEALING: 0x2,
} as const;

/** File seals (linux/fcntl.h). */
export const Seals = {
  F_SEAL_SEAL: 0x1,
  F_SEAL_SHRINK: 0x2,
  F_SEAL_GROW: 0x4,
  F_SEAL_WRITE: 0x8,
} as const;

/** Every seal that makes a file immutable: its size and bytes are fixed, and no seal can be lifted. */
export const IMMUTABLE_SEALS = Seals.F_SEAL_SEAL | Seals.F_SEAL_SHRINK | Seals.F_SEAL_GROW | Seals.F_SEAL_WRITE;

const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;

interface MemfdFns {
  memfdCreate: NativeFunction;
  fcntl: (fd: number, cmd: number, ...args: unknown[]) => number;
}

let fns: MemfdFns | undefined;

function native(): MemfdFns {
  if (fns) return fns;
  const lib = libc();
  fns = {
    memfdCreate: lib.func('int memfd_create(const char *name, unsigned int flags)'),
    fcntl: lib.func('int fcntl(int fd, int cmd, ...)') as MemfdFns['fcntl'],
  };
  return fns;
}

/**
 * A new memfd named `name` (shown as `/memfd:<name>` in /proc), close-on-exec and sealable by
 * default. The caller owns the fd.
 */
export function memfdCreate(name: string, flags: number = MemfdFlags.MFD_CLOEXEC | MemfdFlags.MFD_ALLOW_SEALING): number {
  const fd = native().memfdCreate(name, flags) as number;
  if (fd < 0) throw new SysError('memfd_create', lastErrno(), name);
  return fd;
}

/** fcntl(F_ADD_SEALS): adds `seals` to the file behind `fd` (EPERM if F_SEAL_SEAL is already set). */
export function addSeals(fd: number, seals: number): void {
  if (native().fcntl(fd, F_ADD_SEALS, 'int', seals) < 0) throw new SysError('fcntl(F_ADD_SEALS)', lastErrno(), `fd ${fd}`);
}

/** fcntl(F_GET_SEALS): the seals on `fd`'s file (EINVAL for files that cannot be sealed). */
export function getSeals(fd: number): number {
  const rc = native().fcntl(fd, F_GET_SEALS);
  if (rc < 0) throw new SysError('fcntl(F_GET_SEALS)', lastErrno(), `fd ${fd}`);
  return rc;
}
