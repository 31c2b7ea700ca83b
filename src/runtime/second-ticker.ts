/**
 * One shared once-a-second timer for the daemon's safety polls (exits a SIGCHLD might not have
 * announced, cgroup v1 OOM notifications that end no process we track). Each poll on its own
 * timer was its own wake-up of the daemon, and on the VMs measured a wake-up of an idle Node
 * thread costs ≈ 0.2 ms of CPU, more than the polls themselves (docs/benchmarks.md, round 11):
 * sharing one timer makes it one wake-up a second whatever is subscribed.
 */

const PERIOD_MS = 1000;

interface Subscriber {
  readonly tick: () => void;
  /** Whether this subscriber keeps the process alive (like a ref'd timer). */
  readonly keepAlive: boolean;
}

const subscribers = new Set<Subscriber>();
let timer: NodeJS.Timeout | undefined;

function refresh(): void {
  if (subscribers.size === 0) {
    clearInterval(timer);
    timer = undefined;
    return;
  }
  timer ??= setInterval(() => {
    for (const s of [...subscribers]) {
      try {
        s.tick();
      } catch {
        // one poll's failure must not stop the others (each handles its own errors)
      }
    }
  }, PERIOD_MS);
  // Ref'd only while some subscriber must keep the process alive.
  if ([...subscribers].some((s) => s.keepAlive)) timer.ref();
  else timer.unref();
}

/**
 * Calls `tick` once a second, on the timer every other subscriber shares, until the returned
 * function is called. `keepAlive`: the timer keeps the process alive while this subscription
 * lasts (a pending exit wait does, like a child process).
 */
export function everySecond(tick: () => void, options: { readonly keepAlive: boolean }): () => void {
  const s: Subscriber = { tick, keepAlive: options.keepAlive };
  subscribers.add(s);
  refresh();
  return () => {
    if (subscribers.delete(s)) refresh();
  };
}

/** Subscriptions now (tests). */
export function secondTickerSubscribers(): number {
  return subscribers.size;
}

/** Whether the shared timer now keeps the process alive; undefined when it is not running (tests). */
export function secondTickerKeepsAlive(): boolean | undefined {
  return timer?.hasRef();
}
