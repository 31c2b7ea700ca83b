// A minimal unary gRPC client over a unix socket, built on node:http2. containerd serves the CRI
// over plain gRPC (not ttrpc), and the test must not pull in a gRPC library, so this speaks just
// enough of the protocol: an HTTP/2 POST to /<service>/<method>, the body as length-prefixed
// messages (1 flag byte, 4-byte big-endian length), and the status in grpc-status/grpc-message,
// which arrive in the trailers — or in the headers of a "trailers-only" reply when the call fails
// before any message was sent.
import http2 from 'node:http2';
import net from 'node:net';

/** gRPC status code names, indexed by code, for readable errors. */
export const GRPC_CODE_NAMES: readonly string[] = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/** A call that ended with a non-OK gRPC status, or never got one. */
export class GrpcError extends Error {
  override readonly name = 'GrpcError';
  /**
   * @param path the called method, e.g. `/runtime.v1.RuntimeService/RunPodSandbox`
   * @param code gRPC status code (2 UNKNOWN when the transport failed)
   * @param details the server's grpc-message, percent-decoded
   */
  constructor(readonly path: string, readonly code: number, readonly details: string) {
    super(`${path}: ${GRPC_CODE_NAMES[code] ?? `code ${code}`}: ${details}`);
  }
}

/** Frames one message the way gRPC does: uncompressed flag, 4-byte big-endian length, bytes. */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Splits a gRPC body into its messages; throws on compressed or truncated frames. */
export function unframeMessages(body: Buffer): Uint8Array[] {
  const messages: Uint8Array[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 5) throw new Error(`truncated gRPC frame header (${body.length - at} bytes)`);
    const flag = body.readUInt8(at);
    const length = body.readUInt32BE(at + 1);
    if (flag !== 0) throw new Error(`compressed gRPC frame (flag ${flag}) not supported`);
    if (body.length - at - 5 < length) throw new Error(`truncated gRPC message: want ${length} bytes, have ${body.length - at - 5}`);
    messages.push(new Uint8Array(body.subarray(at + 5, at + 5 + length)));
    at += 5 + length;
  }
  return messages;
}

/** grpc-message is percent-encoded on the wire. */
function decodeGrpcMessage(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(', ') : value ?? '';
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A connection to one gRPC server on a unix socket; calls are multiplexed on one HTTP/2 session. */
export class GrpcUnixClient {
  private constructor(private readonly session: http2.ClientHttp2Session, readonly socketPath: string) {}

  /** Opens the HTTP/2 session; rejects if the socket does not accept the connection. */
  static connect(socketPath: string, timeoutMs = 5_000): Promise<GrpcUnixClient> {
    return new Promise((resolve, reject) => {
      // The authority is not used for routing by containerd; "localhost" keeps http2 happy.
      const session = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
      const timer = setTimeout(() => {
        session.destroy();
        reject(new Error(`gRPC connect to ${socketPath}: no HTTP/2 settings within ${timeoutMs} ms`));
      }, timeoutMs);
      session.once('connect', () => {
        clearTimeout(timer);
        session.removeAllListeners('error');
        // Later session errors surface on the individual streams; keep them from crashing the process.
        session.on('error', () => undefined);
        resolve(new GrpcUnixClient(session, socketPath));
      });
      session.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`gRPC connect to ${socketPath}: ${err.message}`));
      });
    });
  }

  /**
   * Sends one request message and resolves with the single reply message.
   * @param path `/<package>.<Service>/<Method>`
   * @param request the encoded request
   * @param timeoutMs deadline, also sent to the server as grpc-timeout
   */
  unary(path: string, request: Uint8Array, timeoutMs = 30_000): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.session.request({
          ':method': 'POST',
          ':path': path,
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
        });
      } catch (err) {
        reject(new GrpcError(path, 14, `cannot open stream: ${(err as Error).message}`));
        return;
      }
      const chunks: Buffer[] = [];
      let status: number | undefined;
      let details = '';
      let httpStatus: number | undefined;
      let settled = false;
      const finish = (err: Error | undefined, value?: Uint8Array): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value!);
      };
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        finish(new GrpcError(path, 4, `no reply within ${timeoutMs} ms`));
      }, timeoutMs + 1_000);
      const takeStatus = (headers: http2.IncomingHttpHeaders): void => {
        const raw = headers['grpc-status'];
        if (raw !== undefined) {
          status = Number(Array.isArray(raw) ? raw[0] : raw);
          details = decodeGrpcMessage(headers['grpc-message']);
        }
      };
      stream.on('response', (headers) => {
        httpStatus = Number(headers[':status']);
        takeStatus(headers);
      });
      stream.on('trailers', (trailers) => takeStatus(trailers));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => finish(new GrpcError(path, 14, `stream error: ${err.message}`)));
      stream.on('close', () => {
        if (status === undefined) {
          finish(new GrpcError(path, 2, `stream closed without grpc-status (HTTP ${httpStatus ?? 'no response'})`));
          return;
        }
        if (status !== 0) {
          finish(new GrpcError(path, status, details));
          return;
        }
        try {
          const messages = unframeMessages(Buffer.concat(chunks));
          if (messages.length !== 1) throw new Error(`expected 1 reply message, got ${messages.length}`);
          finish(undefined, messages[0]);
        } catch (err) {
          finish(new GrpcError(path, 13, (err as Error).message));
        }
      });
      stream.end(frameMessage(request));
    });
  }

  /** Closes the session; pending calls fail. */
  close(): void {
    this.session.close();
    this.session.destroy();
  }
}
