/**
 * A FIFO async mutex. Public verbs of a process take it so that runtime commands for one process
 * never interleave (the reference holds a per-process lock around every state transition).
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `work` once every earlier holder has finished; errors propagate to the caller only. */
  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** A promise with its resolver exposed, for one-shot signals such as "exit published". */
export class Signal<T = void> {
  readonly promise: Promise<T>;
  private resolver!: (value: T) => void;
  private done = false;

  constructor() {
    this.promise = new Promise<T>((resolve) => {
      this.resolver = resolve;
    });
  }

  get fired(): boolean {
    return this.done;
  }

  fire(value: T): void {
    if (this.done) return;
    this.done = true;
    this.resolver(value);
  }
}

/** Resolves after `ms` without keeping the event loop alive. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Waits for `promise` at most `ms`; returns whether it settled in time. Never rejects. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
