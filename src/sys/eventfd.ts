/**
 * eventfd(2), for cgroup v1 memory OOM notification: register `<eventfd> <memory.oom_control fd>`
 * in `cgroup.event_control`, then each 8-byte read of the eventfd returns how many OOM events
 * happened since the last read.
 */
import { lastErrno, libc, type NativeFunction } from './libc.js';
import { SysError } from './errors.js';

/** eventfd flags (sys/eventfd.h). */
export const EventfdFlags = {
  EFD_SEMAPHORE: 0x1,
  EFD_NONBLOCK: 0x800,
  EFD_CLOEXEC: 0x80000,
} as const;

let eventfdFn: NativeFunction | undefined;
let readFn: NativeFunction | undefined;

const EAGAIN = 11;

/**
 * One non-blocking read of an eventfd's counter: the value (and the counter is reset), or 0 when
 * nothing was signalled. A plain read(2): fs.readSync would build and throw an Error for every
 * EAGAIN, which is what a poll of a quiet eventfd returns every time.
 */
export function readEventfd(fd: number): bigint {
  readFn ??= libc().func('intptr_t read(int fd, void *buf, size_t count)');
  const buf = Buffer.alloc(8);
  const n = readFn(fd, buf, 8) as number;
  if (n === 8) return buf.readBigUInt64LE(0);
  if (n < 0) {
    const errno = lastErrno();
    if (errno === EAGAIN) return 0n;
    throw new SysError('read', errno, `eventfd ${fd}`);
  }
  throw new SysError('read', 5, `eventfd ${fd}: short read of ${n} bytes`);
}

/** Creates an eventfd (close-on-exec by default); the caller owns and closes it. */
export function eventfd(initialValue = 0, flags: number = EventfdFlags.EFD_CLOEXEC): number {
  eventfdFn ??= libc().func('int eventfd(unsigned int initval, int flags)');
  const fd = eventfdFn(initialValue, flags) as number;
  if (fd < 0) throw new SysError('eventfd', lastErrno());
  return fd;
}
