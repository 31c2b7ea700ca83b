/**
 * The raw fds one stdio object owns. Each fd leaves the set exactly once — closed, or handed to a
 * stream that closes it — so no number is ever closed twice (it could already belong to someone else).
 */
import { closeFd } from './fd.js';

/** A set of owned file descriptors. */
export class OwnedFds {
  private readonly fds = new Set<number>();

  /** Records `fd` as owned and returns it. */
  own(fd: number): number {
    this.fds.add(fd);
    return fd;
  }

  /** Hands `fd` over to a new owner (e.g. a stream); throws if it is no longer ours. */
  take(fd: number): number {
    if (!this.fds.delete(fd)) throw new Error(`fd ${fd} is not owned here`);
    return fd;
  }

  /** Closes `fd` if it is still ours. */
  close(fd: number | undefined): void {
    if (fd === undefined || !this.fds.delete(fd)) return;
    closeFd(fd);
  }

  /** Closes every fd still owned. */
  closeAll(): void {
    for (const fd of this.fds) closeFd(fd);
    this.fds.clear();
  }

  /** How many fds are still owned. */
  get size(): number {
    return this.fds.size;
  }
}
