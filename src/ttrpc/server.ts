/**
 * TtrpcServer: unix-socket listener(s), service registry, graceful and hard shutdown.
 */
import net from 'node:net';
import type { DescMessage, DescService } from '@bufbuild/protobuf';
import { ServerConnection, type ConnectionHost } from './server-connection.js';
import { MethodTable, unaryMethods, type RawHandler, type ServiceImpl, type UnaryHandler } from './service.js';

/** The peer's identity from `SO_PEERCRED`. */
export interface PeerCredentials {
  readonly pid?: number;
  readonly uid: number;
  readonly gid: number;
}

/** Options of a TtrpcServer. */
export interface TtrpcServerOptions {
  /**
   * Reads the peer credentials of an accepted socket's fd (`SO_PEERCRED`; ttrpc has no native code
   * of its own, so the caller injects it). When given, a peer whose uid or gid differs from
   * `expectedUid`/`expectedGid` is disconnected without a byte written, like Go's
   * UnixSocketRequireSameUser. If the fd cannot be found or the function throws, the peer is
   * refused as well (fail closed).
   */
  readonly peerCredentials?: (fd: number) => PeerCredentials;
  /** Defaults to `process.geteuid()`. */
  readonly expectedUid?: number;
  /** Defaults to `process.getegid()`. */
  readonly expectedGid?: number;
  /** Connection-level problems (socket errors, refused peers); never handler errors. */
  readonly onError?: (err: Error) => void;
}

/** Node keeps the descriptor of a pipe/tcp handle here on Unix; there is no public accessor. */
function socketFd(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}

/** A ttrpc server (ttrpc 1.1.1 wire behaviour, unary calls only). */
export class TtrpcServer {
  private readonly methods = new MethodTable();
  private readonly listeners = new Set<net.Server>();
  private readonly connections = new Set<ServerConnection>();
  private readonly host: ConnectionHost;
  private stopping: 'no' | 'shutdown' | 'close' = 'no';
  private shutdownPromise: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: TtrpcServerOptions = {}) {
    this.host = {
      methods: this.methods,
      reportError: (err) => this.report(err),
      connectionClosed: (conn) => {
        this.connections.delete(conn);
        if (this.connections.size === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of waiters) w();
        }
      },
    };
  }

  /** Open client connections. */
  get activeConnections(): number {
    return this.connections.size;
  }

  /**
   * Registers the unary methods of a protobuf-es service with typed handlers keyed by local name
   * (`Task.method.state` → `impl.state`). Wire names are the descriptor's `typeName` and method
   * `name`. Handlers are called without `this`; bind methods of a class first.
   */
  register<S extends DescService>(service: S, impl: ServiceImpl<S>): this {
    const handlers = impl as Record<string, UnaryHandler<DescMessage, DescMessage> | undefined>;
    for (const m of unaryMethods(service)) {
      const handler = handlers[m.localName];
      if (typeof handler !== 'function') continue;
      this.methods.add(service.typeName, m.name, { input: m.input, output: m.output, handler });
    }
    return this;
  }

  /** Registers one typed method by wire names and message schemas. */
  registerMethod<I extends DescMessage, O extends DescMessage>(service: string, method: string, input: I, output: O, handler: UnaryHandler<I, O>): this {
    this.methods.add(service, method, { input, output, handler: handler as never });
    return this;
  }

  /** Registers one method over raw payload bytes (no protobuf decoding by the server). */
  registerRaw(service: string, method: string, handler: RawHandler): this {
    this.methods.add(service, method, { input: undefined, output: undefined, handler: handler as never });
    return this;
  }

  /** Listens on a unix socket path (which must not exist yet). */
  listen(path: string): Promise<void> {
    return this.startListener((srv, cb) => srv.listen(path, cb));
  }

  /** Listens on an inherited, already listening socket descriptor (the shim's fd 3). */
  listenFd(fd: number): Promise<void> {
    return this.startListener((srv, cb) => srv.listen({ fd }, cb));
  }

  /** Serves one already-connected socket (e.g. from a socketpair or a custom listener). */
  serveSocket(socket: net.Socket): void {
    this.accept(socket);
  }

  private startListener(start: (srv: net.Server, cb: () => void) => void): Promise<void> {
    if (this.stopping !== 'no') return Promise.reject(new Error('ttrpc: server closed'));
    const srv = net.createServer({ allowHalfOpen: false, pauseOnConnect: false }, (socket) => this.accept(socket));
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      srv.once('error', onError);
      start(srv, () => {
        srv.off('error', onError);
        srv.on('error', (err) => this.report(err));
        this.listeners.add(srv);
        resolve();
      });
    });
  }

  private accept(socket: net.Socket): void {
    if (this.stopping !== 'no') {
      socket.destroy();
      return;
    }
    if (this.options.peerCredentials && !this.peerAllowed(socket)) {
      socket.destroy();
      return;
    }
    this.connections.add(new ServerConnection(socket, this.host));
  }

  private peerAllowed(socket: net.Socket): boolean {
    const fd = socketFd(socket);
    try {
      if (fd < 0) throw new Error('socket descriptor unavailable');
      const creds = this.options.peerCredentials!(fd);
      const uid = this.options.expectedUid ?? process.geteuid?.() ?? 0;
      const gid = this.options.expectedGid ?? process.getegid?.() ?? 0;
      if (creds.uid === uid && creds.gid === gid) return true;
      this.report(new Error(`ttrpc: refusing peer uid=${creds.uid} gid=${creds.gid} pid=${creds.pid ?? '?'}: not uid=${uid} gid=${gid}`));
    } catch (err) {
      this.report(new Error(`ttrpc: refusing peer, credential check failed: ${(err as Error).message}`, { cause: err }));
    }
    return false;
  }

  private closeListeners(): Promise<void> {
    const all = [...this.listeners].map((srv) => new Promise<void>((resolve) => srv.close(() => resolve())));
    this.listeners.clear();
    return Promise.all(all).then(() => undefined);
  }

  private whenNoConnections(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Graceful stop (Go's Server.Shutdown): no new connections, each connection closes once its
   * in-flight calls have answered. Resolves when all are closed. Idempotent.
   */
  shutdown(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    if (this.shutdownPromise) return this.shutdownPromise;
    this.stopping = 'shutdown';
    const listeners = this.closeListeners();
    for (const conn of this.connections) conn.drain();
    this.shutdownPromise = Promise.all([listeners, this.whenNoConnections()]).then(() => undefined);
    return this.shutdownPromise;
  }

  /**
   * Hard stop (Go's Server.Close): closes listeners and every connection now; running handlers see
   * their signal aborted and their answers are dropped. Idempotent; also ends a pending shutdown.
   */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.stopping = 'close';
    const listeners = this.closeListeners();
    for (const conn of [...this.connections]) conn.destroy();
    this.closePromise = Promise.all([listeners, this.whenNoConnections()]).then(() => undefined);
    return this.closePromise;
  }

  private report(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    try {
      this.options.onError?.(e);
    } catch {
      // a failing error callback must not break the server
    }
  }
}
