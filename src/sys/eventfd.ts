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

/** Creates an eventfd (close-on-exec by default); the caller owns and closes it. */
export function eventfd(initialValue = 0, flags: number = EventfdFlags.EFD_CLOEXEC): number {
  eventfdFn ??= libc().func('int eventfd(unsigned int initval, int flags)');
  const fd = eventfdFn(initialValue, flags) as number;
  if (fd < 0) throw new SysError('eventfd', lastErrno());
  return fd;
}
