/**
 * The one error class of the ttrpc layer: a gRPC status (code + message) that travels on the wire.
 */
import { Code, codeName } from './code.js';

/** One `google.protobuf.Any` from `google.rpc.Status.details`, kept undecoded. */
export interface StatusDetail {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

/** A failed call: thrown by handlers to answer with a status, and raised by the client for one. */
export class TtrpcError extends Error {
  /** The gRPC status code sent or received. */
  readonly code: Code;
  /** `google.rpc.Status.details` as received (never produced by containerd); empty otherwise. */
  readonly details: readonly StatusDetail[];

  /**
   * @param code the status code; `Code.OK` is not a failure and should not be used.
   * @param message the status message exactly as it goes on the wire.
   */
  constructor(code: Code, message: string, options?: { cause?: unknown; details?: readonly StatusDetail[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TtrpcError';
    this.code = code;
    this.details = options?.details ?? [];
  }

  /** Renders like gRPC's status errors, so logs show both code and text. */
  override toString(): string {
    return `TtrpcError: ${codeName(this.code)}: ${this.message}`;
  }

  /**
   * What the Go server sends for an error a handler returned (spec §7.3): a TtrpcError as is; the
   * Node equivalents of Go's convertCode table (abort/timeout, EEXIST, ENOENT, EACCES/EPERM,
   * EINVAL) with their codes; anything else as `Unknown` with its message.
   */
  static from(err: unknown): TtrpcError {
    if (err instanceof TtrpcError) return err;
    if (!(err instanceof Error)) return new TtrpcError(Code.Unknown, String(err), { cause: err });
    const code = ERRNO_CODES[(err as NodeJS.ErrnoException).code ?? ''] ?? NAME_CODES[err.name] ?? Code.Unknown;
    return new TtrpcError(code, err.message, { cause: err });
  }
}

const ERRNO_CODES: Readonly<Record<string, Code>> = {
  EEXIST: Code.AlreadyExists,
  ENOTEMPTY: Code.AlreadyExists,
  ENOENT: Code.NotFound,
  EACCES: Code.PermissionDenied,
  EPERM: Code.PermissionDenied,
  EINVAL: Code.InvalidArgument,
  ABORT_ERR: Code.Canceled,
};

const NAME_CODES: Readonly<Record<string, Code>> = {
  AbortError: Code.Canceled,
  TimeoutError: Code.DeadlineExceeded,
};

/** The error text of a closed connection, as Go's ttrpc client reports it. */
export const CLOSED_MESSAGE = 'ttrpc: closed';

/** A fresh error for calls that fail because the connection is gone. */
export function closedError(cause?: unknown): TtrpcError {
  return new TtrpcError(Code.Unavailable, CLOSED_MESSAGE, cause === undefined ? undefined : { cause });
}

/** The error a call fails with when its deadline passed (Go's context.DeadlineExceeded text). */
export function deadlineError(): TtrpcError {
  return new TtrpcError(Code.DeadlineExceeded, 'context deadline exceeded');
}

/** The error a call fails with when its caller cancelled it (Go's context.Canceled text). */
export function canceledError(cause?: unknown): TtrpcError {
  return new TtrpcError(Code.Canceled, 'context canceled', cause === undefined ? undefined : { cause });
}
