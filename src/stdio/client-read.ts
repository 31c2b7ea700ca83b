/**
 * Waiting until the client has read what the shim wrote into its fifo.
 *
 * Why (issue 7): containerd's client opens its fifo readers asynchronously — a goroutine sits in a
 * blocking open(2) — and when it handles an exit it cancels that open: `ctr task exec` calls
 * DeleteProcess as soon as Wait returns, then cancels its stdio, and a reader whose open(2) has
 * not returned yet is closed unread. The kernel counts that pending reader, so our writer opens,
 * writes and closes while the client's goroutine may not have run yet; under load it can lag by
 * tens of milliseconds, and its bytes were then thrown away although they sat in the fifo.
 * Once the fifo is empty the client has read them (a read waits for the open to finish), so its
 * cancel can no longer lose anything: the exit is announced only after that (bounded).
 */
import { bytesReadable } from '../sys/tty.js';

/** How long a finished copy waits for the client to empty its fifo before giving up. */
export const CLIENT_READ_WAIT_MS = 2000;

/** Poll interval bounds: the client usually reads within a millisecond, under load within ~30 ms. */
const FIRST_POLL_MS = 1;
const MAX_POLL_MS = 10;

/** What {@link waitUntilRead} saw. */
export interface ClientRead {
  /** Bytes still unread when the wait began. */
  readonly unreadAtStart: number;
  /** Bytes still unread when it ended (0 = the client read everything). */
  readonly unread: number;
  /** How long it waited, in milliseconds. */
  readonly waitedMs: number;
}

/**
 * Resolves once the fifo behind `fd()` holds no unread bytes, `fd()` is gone (the owner closed it:
 * never poll a number that may already be reused) or `timeoutMs` passed. Never rejects.
 * @param fd the current fd of any end of the fifo (asked again before every poll)
 */
export async function waitUntilRead(fd: () => number | undefined, timeoutMs = CLIENT_READ_WAIT_MS): Promise<ClientRead> {
  const started = Date.now();
  const unread = (): number => {
    const n = fd();
    if (n === undefined) return 0;
    try {
      return bytesReadable(n);
    } catch {
      return 0; // not a pipe any more, or closed: nothing left to wait for
    }
  };
  const unreadAtStart = unread();
  let left = unreadAtStart;
  let delay = FIRST_POLL_MS;
  while (left > 0 && Date.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, MAX_POLL_MS);
    left = unread();
  }
  return { unreadAtStart, unread: left, waitedMs: Date.now() - started };
}
