/**
 * One accepted connection of a TtrpcServer: reads frames, answers the bad-input rows of spec §8
 * the way Go's ttrpc 1.1.1 does, and runs every request concurrently.
 */
import type { Socket } from 'node:net';
import type { DescMessage } from '@bufbuild/protobuf';
import { Code } from './code.js';
import { canceledError, deadlineError, TtrpcError } from './error.js';
import { FrameReader, MAX_MESSAGE_LENGTH, MessageType, type FrameSink } from './frame.js';
import { decodeRequest, encodeErrorFrame, encodeSuccessFrame, successBodyLength, type KeyValuePair, type RequestMessage } from './messages.js';
import { Metadata } from './metadata.js';
import { decodeMessage, encodeMessage } from './proto-codec.js';
import type { CallContext, MethodEntry, MethodTable } from './service.js';

/** Whether a handler answered with a promise (else it answered synchronously, in the same turn). */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** setTimeout's largest delay; longer deadlines are not armed (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The text Go uses for both directions of the size limit. */
export function oversizeMessage(length: number): string {
  return `message length ${length} exceed maximum message size of ${MAX_MESSAGE_LENGTH}`;
}

/** Per-call context; the signal and metadata objects are only built when a handler asks. */
class ServerCallContext implements CallContext {
  readonly deadline: number | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private md: Metadata | undefined;

  constructor(
    readonly service: string,
    readonly method: string,
    readonly streamId: number,
    private readonly pairs: KeyValuePair[] | undefined,
    timeoutNano: number,
  ) {
    if (timeoutNano === 0) {
      this.deadline = undefined;
      return;
    }
    const ms = timeoutNano / 1e6;
    this.deadline = Date.now() + ms;
    this.controller = new AbortController();
    if (ms <= 0) this.controller.abort(deadlineError());
    else if (ms <= MAX_TIMER_MS) {
      this.timer = setTimeout(() => this.controller!.abort(deadlineError()), Math.ceil(ms));
    }
  }

  get metadata(): Metadata {
    return (this.md ??= Metadata.fromPairs(this.pairs));
  }

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  /** The call finished: its deadline timer is no longer needed. */
  done(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** The connection went away: handlers still running are cancelled. */
  cancel(): void {
    this.done();
    if (this.controller && !this.controller.signal.aborted) this.controller.abort(canceledError());
  }
}

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly methods: MethodTable;
  reportError(err: unknown): void;
  connectionClosed(conn: ServerConnection): void;
}

/** One client connection. */
export class ServerConnection implements FrameSink {
  private readonly reader: FrameReader;
  private readonly calls = new Set<ServerCallContext>();
  private corked = false;
  private closed = false;
  private draining = false;

  constructor(private readonly socket: Socket, private readonly host: ConnectionHost) {
    this.reader = new FrameReader(this);
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        // A bug of ours must not take the process (or the connection) down.
        host.reportError(err);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') host.reportError(err);
    });
    socket.on('close', () => this.teardown());
    // EOF from the client: Go closes the connection and drops in-flight responses.
    socket.on('end', () => socket.destroy());
  }

  /** Calls whose handlers are still running. */
  get inFlight(): number {
    return this.calls.size;
  }

  frame(streamId: number, type: number, _flags: number, body: Buffer): void {
    // Go 1.1.1 ignores anything but Requests (including ttrpc 1.2 Data frames) and any flags.
    if (type !== MessageType.Request) return;
    let req: RequestMessage;
    try {
      req = decodeRequest(body);
    } catch (err) {
      this.send(encodeErrorFrame(streamId, Code.InvalidArgument, `unmarshal request error: ${(err as Error).message}`));
      return;
    }
    if ((streamId & 1) === 0) {
      this.send(encodeErrorFrame(streamId, Code.InvalidArgument, 'StreamID must be odd for client initiated streams'));
      return;
    }
    const methods = this.host.methods.service(req.service);
    if (methods === undefined) {
      this.send(encodeErrorFrame(streamId, Code.Unimplemented, `service ${req.service}`));
      return;
    }
    const entry = methods.get(req.method);
    if (entry === undefined) {
      this.send(encodeErrorFrame(streamId, Code.Unimplemented, `method ${req.method}`));
      return;
    }
    const ctx = new ServerCallContext(req.service, req.method, streamId, req.metadata, req.timeoutNano);
    this.calls.add(ctx);
    this.run(entry, req.payload, ctx);
  }

  oversize(streamId: number, _type: number, length: number): void {
    this.send(encodeErrorFrame(streamId, Code.ResourceExhausted, oversizeMessage(length)));
  }

  /**
   * Runs one call. A handler that answers synchronously is answered in the same turn (no promise
   * hop between the request and its reply); one that returns a promise is awaited.
   */
  private run(entry: MethodEntry, payload: Buffer, ctx: ServerCallContext): void {
    let result: unknown;
    try {
      const input = entry.input;
      let req: unknown = payload;
      if (input !== undefined) {
        try {
          req = decodeMessage(input, payload);
        } catch (err) {
          throw new TtrpcError(Code.Internal, `ttrpc: error unmarshalling payload: ${(err as Error).message}`);
        }
      }
      result = entry.handler(req as never, ctx);
    } catch (err) {
      this.answer(ctx, this.errorFrame(ctx, err));
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => this.answer(ctx, this.resultFrame(ctx, entry.output, value)),
        (err: unknown) => this.answer(ctx, this.errorFrame(ctx, err)),
      );
    } else this.answer(ctx, this.resultFrame(ctx, entry.output, result));
  }

  private resultFrame(ctx: ServerCallContext, output: DescMessage | undefined, result: unknown): Buffer {
    try {
      return this.encodeResult(ctx.streamId, output, result);
    } catch (err) {
      return this.errorFrame(ctx, err);
    }
  }

  private errorFrame(ctx: ServerCallContext, err: unknown): Buffer {
    const e = TtrpcError.from(err);
    return encodeErrorFrame(ctx.streamId, e.code, e.message, e.details);
  }

  private answer(ctx: ServerCallContext, frame: Buffer): void {
    ctx.done();
    if (!this.calls.delete(ctx)) return; // the connection closed meanwhile: Go drops the response
    this.send(frame);
    if (this.draining && this.calls.size === 0) this.end();
  }

  private encodeResult(streamId: number, output: DescMessage | undefined, result: unknown): Buffer {
    if (result === undefined || result === null) throw new TtrpcError(Code.Unknown, 'ttrpc: marshal called with nil');
    let bytes: Uint8Array;
    if (output === undefined) {
      if (!(result instanceof Uint8Array)) throw new TtrpcError(Code.Internal, 'ttrpc: error unsupported response type: raw handlers must return bytes');
      bytes = result;
    } else {
      try {
        bytes = encodeMessage(output, result as never);
      } catch (err) {
        throw new TtrpcError(Code.Internal, `ttrpc: error marshaling payload: ${(err as Error).message}`);
      }
    }
    // Refuse to send what the peer would reject (ttrpc 1.2.6+ behaviour, spec §2.2).
    const bodyLength = successBodyLength(bytes.length);
    if (bodyLength > MAX_MESSAGE_LENGTH) throw new TtrpcError(Code.ResourceExhausted, oversizeMessage(bodyLength));
    return encodeSuccessFrame(streamId, bytes);
  }

  /** Writes one whole frame; frames produced in the same tick leave in one writev. */
  private send(frame: Buffer): void {
    if (this.closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(frame);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /** Graceful: close now if idle, otherwise once the last in-flight call answered. */
  drain(): void {
    this.draining = true;
    if (this.calls.size === 0) this.end();
  }

  private end(): void {
    if (this.closed) return;
    if (this.corked) this.uncork();
    this.socket.end(() => this.socket.destroy());
  }

  /** Hard close: drop the socket, cancel running handlers. */
  destroy(): void {
    this.socket.destroy();
    this.teardown();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ctx of this.calls) ctx.cancel();
    this.calls.clear();
    this.host.connectionClosed(this);
  }
}
