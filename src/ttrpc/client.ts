/**
 * TtrpcClient: one connection, strictly increasing odd stream ids, any number of calls in flight.
 */
import net from 'node:net';
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { Code } from './code.js';
import { canceledError, closedError, deadlineError, TtrpcError } from './error.js';
import { FrameReader, HEADER_LENGTH, MAX_MESSAGE_LENGTH, MessageType, type FrameSink } from './frame.js';
import { decodeResponse, encodeRequestFrame } from './messages.js';
import { metadataPairs, type MetadataInit } from './metadata.js';
import { decodeMessage, encodeMessage } from './proto-codec.js';
import { oversizeMessage } from './server-connection.js';

/** Per-call options. */
export interface CallOptions {
  /** Deadline relative to now; sent as `timeout_nano`, and the call fails with DeadlineExceeded locally. */
  readonly timeoutMs?: number;
  /** Cancels the wait (the server is not told: ttrpc has no cancel frame). */
  readonly signal?: AbortSignal;
  /** Metadata pairs, e.g. `[['containerd-namespace-ttrpc', 'default']]`. */
  readonly metadata?: MetadataInit;
}

/** Options of `TtrpcClient.connect`. */
export interface ConnectOptions {
  /** Bound on connecting, and the default deadline of calls that set none. */
  readonly timeoutMs?: number;
  /** Default deadline of calls that set none (overrides `timeoutMs` for calls). */
  readonly callTimeoutMs?: number;
}

interface Pending {
  resolve(payload: Buffer): void;
  reject(err: TtrpcError): void;
}

/** A ttrpc client over one unix stream connection. */
export class TtrpcClient implements FrameSink {
  private readonly reader: FrameReader;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private isClosed = false;
  private closeError: TtrpcError | undefined;
  private readonly closeWaiters: (() => void)[] = [];

  /** Wraps an already-connected socket. */
  constructor(private readonly socket: net.Socket, private readonly defaultTimeoutMs?: number) {
    this.reader = new FrameReader(this);
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.reader.push(chunk));
    socket.on('error', (err) => this.fail(closedError(err)));
    socket.on('end', () => this.fail(closedError()));
    socket.on('close', () => this.fail(closedError()));
  }

  /** Connects to a unix socket path (a `unix://` prefix is accepted). */
  static connect(path: string, options: ConnectOptions = {}): Promise<TtrpcClient> {
    const address = path.startsWith('unix://') ? path.slice('unix://'.length) : path;
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path: address });
      let timer: NodeJS.Timeout | undefined;
      const onError = (err: Error): void => {
        if (timer) clearTimeout(timer);
        socket.destroy();
        reject(new TtrpcError(Code.Unavailable, `ttrpc: dial ${address}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => onError(new Error('connect timed out')), options.timeoutMs);
      }
      socket.once('connect', () => {
        if (timer) clearTimeout(timer);
        socket.off('error', onError);
        resolve(new TtrpcClient(socket, options.callTimeoutMs ?? options.timeoutMs));
      });
    });
  }

  /** True once the connection is gone (closed by either side); every later call fails. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Calls in flight. */
  get pendingCalls(): number {
    return this.pending.size;
  }

  /** Resolves when the connection is closed. */
  whenClosed(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  /** Closes the connection; pending calls fail with `ttrpc: closed` (Unavailable). Idempotent. */
  close(): void {
    this.fail(closedError());
    this.socket.destroy();
  }

  /** A typed unary call of a protobuf-es method descriptor, e.g. `client.call(Task.method.state, { id })`. */
  async call<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    request: MessageInitShape<I>,
    options?: CallOptions,
  ): Promise<MessageShape<O>> {
    const payload = encodeMessage(method.input, request as never);
    const reply = await this.callRaw(method.parent.typeName, method.name, payload, options);
    try {
      return decodeMessage(method.output, reply) as MessageShape<O>;
    } catch (err) {
      throw new TtrpcError(Code.Internal, `ttrpc: error unmarshalling response: ${(err as Error).message}`, { cause: err });
    }
  }

  /** A unary call by wire names with a serialized request; resolves to the serialized response. */
  callRaw(service: string, method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Buffer> {
    if (this.isClosed) return Promise.reject(this.closeError ?? closedError());
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(canceledError(signal.reason));
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    if (timeoutMs !== undefined && timeoutMs <= 0) return Promise.reject(deadlineError());
    const streamId = this.nextId;
    const frame = encodeRequestFrame(streamId, service, method, {
      payload,
      timeoutNano: timeoutMs === undefined ? 0 : Math.round(timeoutMs * 1e6),
      metadata: metadataPairs(options.metadata),
    });
    if (frame.length - HEADER_LENGTH > MAX_MESSAGE_LENGTH) {
      return Promise.reject(new TtrpcError(Code.ResourceExhausted, oversizeMessage(frame.length - HEADER_LENGTH)));
    }
    // Odd, strictly increasing; wrap-around after 2^31 calls is not handled (neither is it in Go).
    this.nextId += 2;
    return new Promise<Buffer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        if (!this.pending.delete(streamId)) return;
        cleanup();
        reject(canceledError(signal!.reason));
      };
      this.pending.set(streamId, {
        resolve: (p) => {
          cleanup();
          resolve(p);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          // A late response for this id is dropped, as Go does.
          if (this.pending.delete(streamId)) {
            cleanup();
            reject(deadlineError());
          }
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.socket.write(frame);
    });
  }

  frame(streamId: number, type: number, _flags: number, body: Buffer): void {
    const call = this.pending.get(streamId);
    if (call === undefined) return; // unknown or abandoned id: dropped, connection kept (Go)
    this.pending.delete(streamId);
    if (type !== MessageType.Response) {
      call.reject(new TtrpcError(Code.Unknown, 'unknown message type received'));
      return;
    }
    let res;
    try {
      res = decodeResponse(body);
    } catch (err) {
      call.reject(new TtrpcError(Code.Internal, `ttrpc: error unmarshalling response: ${(err as Error).message}`, { cause: err }));
      return;
    }
    if (res.code !== Code.OK) call.reject(new TtrpcError(res.code, res.message, { details: res.details ?? [] }));
    else call.resolve(res.payload);
  }

  oversize(streamId: number, _type: number, length: number): void {
    const call = this.pending.get(streamId);
    if (call === undefined) return;
    this.pending.delete(streamId);
    call.reject(new TtrpcError(Code.ResourceExhausted, oversizeMessage(length)));
  }

  private fail(err: TtrpcError): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeError = err;
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const c of calls) c.reject(closedError(err.cause));
    if (!this.socket.destroyed) this.socket.destroy();
    for (const w of this.closeWaiters.splice(0)) w();
  }
}
