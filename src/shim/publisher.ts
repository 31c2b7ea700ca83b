/**
 * Publishes task events to containerd: `containerd.services.events.ttrpc.v1.Events/Forward` over
 * ttrpc on $TTRPC_ADDRESS (events.md). One bounded FIFO, one forwarder, strict order: a failed
 * event is retried at the head of the queue (1 s, 2 s, … 5 s back-off, then dropped) instead of
 * letting later events overtake it, which is the improvement events.md §6 recommends.
 */
import type { Any } from '@bufbuild/protobuf/wkt';
import { ForwardRequestSchema } from '../api/containerd/services/ttrpc/events/v1/events_pb.js';
import { timestampFromDate } from '../api/typeurl.js';
import { encodeMessage, TtrpcClient, TtrpcError } from '../ttrpc/index.js';
import type { Logger } from '../process/index.js';

const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
const FORWARD_TIMEOUT_MS = 5000;
const MAX_RETRIES = 5;
const NAMESPACE_KEY = 'containerd-namespace-ttrpc';

/** One envelope waiting to be forwarded; the timestamp is fixed when the event happens. */
interface QueuedEvent {
  readonly topic: string;
  /** Packed at the head of the queue, once (a retry sends the same bytes). */
  event: EventPayload;
  readonly timestamp: Date;
  attempts: number;
}

/**
 * An event's payload, or a function that packs it once the event is forwarded: the packing then
 * runs after the reply of the request that caused the event, not before it.
 */
export type EventPayload = Any | (() => Any);

/** Where the task service sends its events. Enqueueing is synchronous, so call order is wire order. */
export interface EventPublisher {
  publish(topic: string, event: EventPayload): void;
  /** Stops accepting events, waits (bounded) until the queue is forwarded, closes the connection. */
  close(timeoutMs?: number): Promise<void>;
}

export interface TtrpcPublisherOptions {
  readonly address: string;
  readonly namespace: string;
  readonly log: Logger;
  /** Events beyond this many queued are dropped (logged): containerd is gone for good by then. */
  readonly capacity?: number;
  /** Back-off unit; tests shorten it. */
  readonly retryUnitMs?: number;
}

export class TtrpcEventPublisher implements EventPublisher {
  private readonly queue: QueuedEvent[] = [];
  private client: TtrpcClient | undefined;
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: TtrpcPublisherOptions) {}

  publish(topic: string, event: EventPayload): void {
    if (this.closed) {
      this.options.log.warn('event after publisher closed', { topic });
      return;
    }
    if (this.queue.length >= (this.options.capacity ?? 1024)) {
      this.options.log.error('event queue full, dropping event', { topic });
      return;
    }
    this.queue.push({ topic, event, timestamp: new Date(), attempts: 0 });
    if (this.running) return;
    this.running = true;
    // In the loop's check phase: the request that caused the event (Start, Exec, Wait…) gets its
    // reply written first, and the envelope's encoding and write come after it. containerd
    // relates events to requests by their content, never by their order against replies (the
    // reference hands events to a forwarding goroutine, with the same effect).
    setImmediate(() => void this.drain());
  }

  private async connection(): Promise<TtrpcClient> {
    if (this.client && !this.client.closed) return this.client;
    const address = this.options.address.replace(/^unix:\/\//, '');
    this.client = await TtrpcClient.connect(address, { timeoutMs: FORWARD_TIMEOUT_MS });
    return this.client;
  }

  private async forward(item: QueuedEvent, event: Any): Promise<void> {
    const payload = encodeMessage(ForwardRequestSchema, {
      envelope: {
        timestamp: timestampFromDate(item.timestamp),
        namespace: this.options.namespace,
        topic: item.topic,
        event,
      },
    });
    const send = async (): Promise<void> => {
      const client = await this.connection();
      await client.callRaw(EVENTS_SERVICE, 'Forward', payload, {
        timeoutMs: FORWARD_TIMEOUT_MS,
        metadata: [[NAMESPACE_KEY, this.options.namespace]],
      });
    };
    try {
      await send();
    } catch (err) {
      // A connection lost (containerd restarted): reconnect and try once more straight away.
      if (this.client?.closed || (err instanceof TtrpcError && /closed/.test(err.message))) {
        this.client?.close();
        this.client = undefined;
        await send();
        return;
      }
      throw err;
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        let event: Any;
        try {
          event = typeof head.event === 'function' ? head.event() : head.event;
          head.event = event;
        } catch (err) {
          // A packing bug, not a transport failure: retrying cannot help, and later events must not wait.
          this.options.log.error('event could not be packed, dropped', { topic: head.topic, error: String(err) });
          this.queue.shift();
          continue;
        }
        try {
          await this.forward(head, event);
          this.queue.shift();
        } catch (err) {
          head.attempts++;
          if (head.attempts > MAX_RETRIES) {
            this.options.log.error('evicting event after retries', { topic: head.topic, error: String(err) });
            this.queue.shift();
            continue;
          }
          this.options.log.warn('post event failed, retrying', { topic: head.topic, attempt: head.attempts, error: String(err) });
          await new Promise((resolve) => setTimeout(resolve, head.attempts * (this.options.retryUnitMs ?? 1000)));
        }
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  async close(timeoutMs = 5000): Promise<void> {
    this.closed = true;
    if (this.running) {
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
    }
    this.client?.close();
    this.client = undefined;
  }
}
