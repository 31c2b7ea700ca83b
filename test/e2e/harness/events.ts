// Records `ctr events` in the background and parses each line, for assertions on event order.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Ctr } from './ctr.js';
import { sleep } from './command.js';

/** One event as `ctr events` prints it: `<timestamp> <namespace> <topic> <json>`. */
export interface RecordedEvent {
  /** containerd's envelope timestamp as printed (Go time format, UTC). */
  readonly timestamp: string;
  readonly namespace: string;
  readonly topic: string;
  /** The event decoded by ctr and printed as JSON (Go field names, e.g. `container_id`). */
  readonly event: Record<string, unknown>;
}

const LINE = /^(\S+ \S+ \S+ \S+) (\S+) (\/\S+) ?(.*)$/;

/** Parses one line of `ctr events` output, or returns undefined for anything else. */
export function parseEventLine(line: string): RecordedEvent | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  let event: Record<string, unknown> = {};
  if (m[4] !== undefined && m[4] !== '') {
    try { event = JSON.parse(m[4]) as Record<string, unknown>; } catch { return undefined; }
  }
  return { timestamp: m[1]!, namespace: m[2]!, topic: m[3]!, event };
}

/** The container an event is about (`container_id` for task events, `id` for container events). */
export function eventContainer(e: RecordedEvent): string | undefined {
  const v = e.event.container_id ?? (e.topic.startsWith('/containers/') ? e.event.id : undefined);
  return typeof v === 'string' ? v : undefined;
}

/** A background `ctr events` subscription. Start with {@link EventRecorder.start}, end with stop(). */
export class EventRecorder {
  /** Every event seen so far, in arrival order. */
  readonly events: RecordedEvent[] = [];
  private buffered = '';
  private stderr = '';
  private closed: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => this.take(s));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => { this.stderr += s; });
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
  }

  /**
   * Subscribes and returns once the subscription is known to be live: it creates and removes a
   * throw-away namespace and waits for that event, so no later event can be missed.
   */
  static async start(ctr: Ctr, timeoutMs = 10_000): Promise<EventRecorder> {
    const child = spawn(ctr.binary, ['--address', ctr.address, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const rec = new EventRecorder(child);
    const marker = `e2e-events-${randomBytes(4).toString('hex')}`;
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await ctr.run(['namespaces', 'create', marker], { timeoutMs: 5_000 });
        await ctr.run(['namespaces', 'rm', marker], { timeoutMs: 5_000 });
        if (await rec.waitUntil((e) => e.some((x) => x.topic === '/namespaces/create' && x.event.name === marker), 1_000)) break;
        if (Date.now() > deadline) throw new Error(`ctr events did not start: ${rec.stderr}`);
      }
    } catch (e) {
      await rec.stop();
      throw e;
    }
    return rec;
  }

  private take(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const e = parseEventLine(line);
      if (e) this.events.push(e);
    }
  }

  /** Resolves true as soon as `pred(events)` holds, false after `timeoutMs`. */
  async waitUntil(pred: (events: readonly RecordedEvent[]) => boolean, timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (pred(this.events)) return true;
      if (Date.now() > deadline) return false;
      await sleep(20);
    }
  }

  /** Waits until an event with `topic` about `containerId` has arrived; throws after the timeout. */
  async waitFor(topic: string, containerId: string, timeoutMs = 10_000): Promise<RecordedEvent> {
    const match = (e: RecordedEvent): boolean => e.topic === topic && eventContainer(e) === containerId;
    if (!(await this.waitUntil((es) => es.some(match), timeoutMs))) {
      throw new Error(`no ${topic} for ${containerId} within ${timeoutMs} ms; saw ${this.topicsFor(containerId).join(', ')}`);
    }
    return this.events.find(match)!;
  }

  /** Events about one container, optionally only those whose topic starts with `prefix`. */
  for(containerId: string, prefix = '/tasks/'): RecordedEvent[] {
    return this.events.filter((e) => eventContainer(e) === containerId && e.topic.startsWith(prefix));
  }

  /** Topics of {@link for}, in order. */
  topicsFor(containerId: string, prefix = '/tasks/'): string[] {
    return this.for(containerId, prefix).map((e) => e.topic);
  }

  /** Ends the subscription (SIGTERM to the ctr process this recorder started). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      try { process.kill(this.child.pid, 'SIGTERM'); } catch { /* gone */ }
    }
    await Promise.race([this.closed, sleep(3_000)]);
  }
}
