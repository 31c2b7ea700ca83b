/**
 * The error type of the calls in this directory outside pipes/tty: a SysCallError (pipes.ts, the
 * layer's common base: `syscall`, `errno`, `code` such as `EINVAL`) whose message also names what
 * the call was about (the path, fd or pid), so a failure reads well in a log line.
 */
import { SysCallError } from './pipes.js';

/** A failed native call; `instanceof SysCallError` holds for it too. */
export class SysError extends SysCallError {
  constructor(
    /** The libc function or syscall that failed, e.g. `recvmsg`. */
    call: string,
    /** The errno value the call left behind. */
    errno: number,
    /** What the call was about, e.g. a path or `fd 12`. */
    readonly detail?: string,
  ) {
    super(call, errno);
    if (detail) this.message = `${call} ${detail}: ${this.code} (errno ${errno})`;
  }

  /** Same as `syscall`: the failed call's name. */
  get call(): string {
    return this.syscall;
  }
}
