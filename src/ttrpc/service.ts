/**
 * The server's method table and the typed handler shapes for protobuf-es v2 services.
 */
import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { Metadata } from './metadata.js';

/** What a handler learns about its call besides the request message. */
export interface CallContext {
  /** Fully-qualified service name as sent, e.g. `containerd.task.v2.Task`. */
  readonly service: string;
  /** Bare method name as sent, e.g. `Connect`. */
  readonly method: string;
  /** The request's stream id on its connection. */
  readonly streamId: number;
  /** The request's metadata (empty when none was sent). */
  readonly metadata: Metadata;
  /**
   * Aborted when the request's `timeout_nano` deadline passes (reason: a DeadlineExceeded
   * TtrpcError), or when the connection or server closes (reason: a Canceled TtrpcError).
   * Like Go, the server still sends whatever the handler finally returns.
   */
  readonly signal: AbortSignal;
  /** Absolute deadline in `Date.now()` milliseconds, or undefined when the caller set none. */
  readonly deadline: number | undefined;
}

/** A handler over serialized messages: payload bytes in, payload bytes out. */
export type RawHandler = (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array> | Uint8Array;

/**
 * A typed unary handler: receives the decoded input message, returns the output message or an
 * init shape of it (`{}` for google.protobuf.Empty). Throw a TtrpcError to answer with a status.
 */
export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  req: MessageShape<I>,
  ctx: CallContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/**
 * Handlers for a protobuf-es service, keyed by the methods' local names (`state`, `resizePty`).
 * Methods left out answer Unimplemented `method <Name>`, as an unregistered Go method does.
 */
export type ServiceImpl<S extends DescService> = {
  [K in keyof S['method']]?: S['method'][K] extends { input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? UnaryHandler<I, O>
    : never;
};

/** One registered method. `input`/`output` are absent for raw handlers. */
export interface MethodEntry {
  readonly input: DescMessage | undefined;
  readonly output: DescMessage | undefined;
  readonly handler: (req: never, ctx: CallContext) => unknown;
}

/** Service name → method name → entry. */
export class MethodTable {
  private readonly services = new Map<string, Map<string, MethodEntry>>();

  /** Adds (or replaces) one method. */
  add(service: string, method: string, entry: MethodEntry): void {
    let methods = this.services.get(service);
    if (!methods) {
      methods = new Map();
      this.services.set(service, methods);
    }
    methods.set(method, entry);
  }

  /** The service's methods, or undefined when the service is unknown. */
  service(name: string): Map<string, MethodEntry> | undefined {
    return this.services.get(name);
  }

  /** Registered service names. */
  names(): string[] {
    return [...this.services.keys()];
  }
}

/** The unary methods of a service descriptor, for registration. */
export function unaryMethods(service: DescService): DescMethod[] {
  return service.methods.filter((m) => m.methodKind === 'unary');
}
